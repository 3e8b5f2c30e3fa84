using KubeDind.Mirror;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindStartMirror</c>: the host-side registry mirrors (one per upstream registry) kept running
/// between builds. Every property left null keeps the core's default (<see cref="MirrorSettings"/>).
/// </summary>
public sealed class KubeDindMirrorSettings
{
    /// <summary>The mirror's name, prefix of each registry's container (kubedind-mirror-docker-io); default <c>kubedind-mirror</c>.</summary>
    public string? Name { get; set; }

    /// <summary>The registries to mirror; null = docker.io, ghcr.io, quay.io, registry.k8s.io and gcr.io.</summary>
    public List<MirrorRegistry>? Registries { get; set; }

    /// <summary>Host address the mirrors publish on; default 127.0.0.1.</summary>
    public string? HostAddress { get; set; }

    /// <summary>Registry image; default registry:2 when present, else one built from Debian packages.</summary>
    public string? Image { get; set; }

    public TimeSpan? ReadinessTimeout { get; set; }

    /// <summary>False = ignore KUBEDIND_MIRROR_&lt;HOST&gt;_USERNAME/_PASSWORD/_TOKEN; default true.</summary>
    public bool? CredentialsFromEnvironment { get; set; }

    internal MirrorSettings ToCore()
    {
        var core = new MirrorSettings();
        return core with
        {
            Name = Name ?? core.Name,
            Registries = Registries is null ? core.Registries : [.. Registries],
            HostAddress = HostAddress ?? core.HostAddress,
            Image = Image ?? core.Image,
            ReadinessTimeout = ReadinessTimeout ?? core.ReadinessTimeout,
            CredentialsFromEnvironment = CredentialsFromEnvironment ?? core.CredentialsFromEnvironment,
        };
    }
}

public static class KubeDindMirrorSettingsExtensions
{
    public static KubeDindMirrorSettings WithName(this KubeDindMirrorSettings settings, string name) => Set(settings, s => s.Name = name);

    /// <summary>Mirrors <paramref name="host"/> (e.g. quay.io) from <paramref name="upstreamUrl"/>, replacing a default entry for the same host.</summary>
    public static KubeDindMirrorSettings WithRegistry(this KubeDindMirrorSettings settings, string host, string upstreamUrl, int hostPort = 0) =>
        WithRegistry(settings, new MirrorRegistry(host, upstreamUrl) { HostPort = hostPort });

    public static KubeDindMirrorSettings WithRegistry(this KubeDindMirrorSettings settings, MirrorRegistry registry) =>
        Set(settings, s => s.Registries = [.. new MirrorSettings { Registries = s.Registries ?? MirrorSettings.DefaultRegistries }.WithRegistry(registry).Registries]);

    /// <summary>Mirrors only the given registries (hosts from the defaults, or entries added with <c>WithRegistry</c> later).</summary>
    public static KubeDindMirrorSettings WithOnlyRegistries(this KubeDindMirrorSettings settings, params string[] hosts) =>
        Set(settings, s => s.Registries = [.. (s.Registries ?? MirrorSettings.DefaultRegistries).Where(r => hosts.Contains(r.Host, StringComparer.OrdinalIgnoreCase))]);

    /// <summary>Credentials for <paramref name="host"/>'s upstream (a token goes in <paramref name="password"/>); never logged.</summary>
    public static KubeDindMirrorSettings WithCredentials(this KubeDindMirrorSettings settings, string host, string username, string password) =>
        Set(settings, s => s.Registries = [.. new MirrorSettings { Registries = s.Registries ?? MirrorSettings.DefaultRegistries }.WithCredentials(host, username, password).Registries]);

    public static KubeDindMirrorSettings WithHostAddress(this KubeDindMirrorSettings settings, string address) => Set(settings, s => s.HostAddress = address);

    public static KubeDindMirrorSettings WithImage(this KubeDindMirrorSettings settings, string image) => Set(settings, s => s.Image = image);

    public static KubeDindMirrorSettings WithReadinessTimeout(this KubeDindMirrorSettings settings, TimeSpan timeout) => Set(settings, s => s.ReadinessTimeout = timeout);

    public static KubeDindMirrorSettings WithoutEnvironmentCredentials(this KubeDindMirrorSettings settings) => Set(settings, s => s.CredentialsFromEnvironment = false);

    private static KubeDindMirrorSettings Set(KubeDindMirrorSettings settings, Action<KubeDindMirrorSettings> change)
    {
        ArgumentNullException.ThrowIfNull(settings);
        change(settings);
        return settings;
    }
}
