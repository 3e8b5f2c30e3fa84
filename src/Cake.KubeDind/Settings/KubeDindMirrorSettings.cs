using KubeDind.Mirror;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindStartMirror</c>: the core's <see cref="MirrorSettings"/> (the host-side registry mirrors,
/// one per upstream registry, kept running between builds), changed through the <c>With...</c> methods or
/// <c>Configure(s =&gt; s with { ... })</c> for any field.
/// </summary>
public sealed class KubeDindMirrorSettings
{
    /// <summary>The core's settings this wraps; every member has a working default.</summary>
    public MirrorSettings Core { get; set; } = new();

    internal MirrorSettings ToCore() => Core;
}

public static class KubeDindMirrorSettingsExtensions
{
    /// <summary>Changes any field of the core settings: <c>.Configure(s =&gt; s with { ReadinessTimeout = TimeSpan.FromMinutes(2) })</c>.</summary>
    public static KubeDindMirrorSettings Configure(this KubeDindMirrorSettings settings, Func<MirrorSettings, MirrorSettings> change) => Set(settings, change);

    /// <summary>The mirror's name, prefix of each registry's container (kubedind-mirror-docker-io); default <c>kubedind-mirror</c>.</summary>
    public static KubeDindMirrorSettings WithName(this KubeDindMirrorSettings settings, string name) => Set(settings, s => s with { Name = name });

    /// <summary>Mirrors <paramref name="host"/> (e.g. quay.io) from <paramref name="upstreamUrl"/>, replacing a default entry for the same host.</summary>
    public static KubeDindMirrorSettings WithRegistry(this KubeDindMirrorSettings settings, string host, string upstreamUrl, int hostPort = 0) =>
        WithRegistry(settings, new MirrorRegistry(host, upstreamUrl) { HostPort = hostPort });

    public static KubeDindMirrorSettings WithRegistry(this KubeDindMirrorSettings settings, MirrorRegistry registry) => Set(settings, s => s.WithRegistry(registry));

    /// <summary>Mirrors only the given registries (hosts from the defaults, or entries added with <c>WithRegistry</c> before).</summary>
    public static KubeDindMirrorSettings WithOnlyRegistries(this KubeDindMirrorSettings settings, params string[] hosts) =>
        Set(settings, s => s with { Registries = [.. s.Registries.Where(r => hosts.Contains(r.Host, StringComparer.OrdinalIgnoreCase))] });

    /// <summary>Credentials for <paramref name="host"/>'s upstream (a token goes in <paramref name="password"/>); never logged.</summary>
    public static KubeDindMirrorSettings WithCredentials(this KubeDindMirrorSettings settings, string host, string username, string password) =>
        Set(settings, s => s.WithCredentials(host, username, password));

    /// <summary>Host address the mirrors publish on; default 127.0.0.1.</summary>
    public static KubeDindMirrorSettings WithHostAddress(this KubeDindMirrorSettings settings, string address) => Set(settings, s => s with { HostAddress = address });

    /// <summary>Registry image; default registry:2 when present, else one built from Debian packages.</summary>
    public static KubeDindMirrorSettings WithImage(this KubeDindMirrorSettings settings, string image) => Set(settings, s => s with { Image = image });

    public static KubeDindMirrorSettings WithReadinessTimeout(this KubeDindMirrorSettings settings, TimeSpan timeout) => Set(settings, s => s with { ReadinessTimeout = timeout });

    /// <summary>Ignores KUBEDIND_MIRROR_&lt;HOST&gt;_USERNAME/_PASSWORD/_TOKEN.</summary>
    public static KubeDindMirrorSettings WithoutEnvironmentCredentials(this KubeDindMirrorSettings settings) => Set(settings, s => s with { CredentialsFromEnvironment = false });

    private static KubeDindMirrorSettings Set(KubeDindMirrorSettings settings, Func<MirrorSettings, MirrorSettings> change)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Core = change(settings.Core);
        return settings;
    }
}
