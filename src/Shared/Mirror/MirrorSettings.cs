using System.Text;

namespace KubeDind.Mirror;

/// <summary>
/// One settings object for the host-side registry mirror: one pull-through cache per upstream registry, each
/// kept running between builds with its own cache volume. A running mirror with the same settings is reused;
/// different settings recreate it, keeping its cache. An upstream that does not answer at start gets a
/// cache-only mirror (serving what its cache holds) instead of an error.
/// </summary>
public sealed record MirrorSettings
{
    public const string DefaultName = "kubedind-mirror";

    /// <summary>Docker Hub's registry API, the upstream for images named <c>docker.io/...</c> (or with no registry host).</summary>
    public const string DockerHub = "https://registry-1.docker.io";

    /// <summary>docker.io, ghcr.io, quay.io, registry.k8s.io and gcr.io.</summary>
    public static IReadOnlyList<MirrorRegistry> DefaultRegistries { get; } =
    [
        new("docker.io", DockerHub),
        new("ghcr.io", "https://ghcr.io"),
        new("quay.io", "https://quay.io"),
        new("registry.k8s.io", "https://registry.k8s.io"),
        new("gcr.io", "https://gcr.io"),
    ];

    /// <summary>
    /// The mirror's name: each registry's container is <c>&lt;Name&gt;-&lt;registry host, dots as dashes&gt;</c>
    /// (kubedind-mirror-docker-io), reached on the kubedind network under that name.
    /// </summary>
    public string Name { get; init; } = DefaultName;

    /// <summary>The registries to mirror, one container and cache volume each; default <see cref="DefaultRegistries"/>.</summary>
    public IReadOnlyList<MirrorRegistry> Registries { get; init; } = DefaultRegistries;

    /// <summary>
    /// The address the engine publishes the mirrors on (each on its own port); null (the default) = 127.0.0.1 for a local
    /// engine, 0.0.0.0 for a remote one (DOCKER_HOST=tcp://...), which the build reaches at the engine's host. Anything but
    /// loopback logs a warning.
    /// </summary>
    public string? HostAddress { get; init; }

    /// <summary>Registry image; null = registry:2 if available, else built from Debian's docker-registry.</summary>
    public string? Image { get; init; }

    /// <summary>How long each registry may take to answer <c>/v2/</c> after its container starts.</summary>
    public TimeSpan ReadinessTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Read upstream credentials missing from <see cref="MirrorRegistry.Credentials"/> from the environment:
    /// <c>KUBEDIND_MIRROR_&lt;HOST&gt;_USERNAME</c> and <c>..._PASSWORD</c> (or <c>..._TOKEN</c>), HOST being the
    /// registry host in capitals with dots and dashes as underscores (KUBEDIND_MIRROR_DOCKER_IO_USERNAME).
    /// </summary>
    public bool CredentialsFromEnvironment { get; init; } = true;

    /// <summary>These settings with <paramref name="registry"/> added, or replacing the one for the same host.</summary>
    public MirrorSettings WithRegistry(MirrorRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var replaced = false;
        var list = new List<MirrorRegistry>();
        foreach (var r in Registries)
        {
            if (string.Equals(r.Host, registry.Host, StringComparison.OrdinalIgnoreCase))
            {
                list.Add(registry);
                replaced = true;
            }
            else
            {
                list.Add(r);
            }
        }

        return this with { Registries = replaced ? list : [.. list, registry] };
    }

    /// <summary>These settings mirroring only <paramref name="registries"/>.</summary>
    public MirrorSettings WithOnly(params MirrorRegistry[] registries) => this with { Registries = [.. registries] };

    /// <summary>These settings with credentials for the upstream of <paramref name="host"/> (a token goes in <paramref name="password"/>).</summary>
    public MirrorSettings WithCredentials(string host, string username, string password)
    {
        var registry = Registries.FirstOrDefault(r => string.Equals(r.Host, host, StringComparison.OrdinalIgnoreCase))
            ?? throw new KubeDindException($"mirror credentials for '{host}': no such registry in MirrorSettings.Registries ({string.Join(", ", Registries.Select(r => r.Host))}); add it first with WithRegistry.");
        return WithRegistry(registry with { Credentials = new MirrorCredentials(username, password) });
    }

    /// <summary>The container name of <paramref name="registry"/>'s mirror.</summary>
    public string ContainerName(MirrorRegistry registry) => registry.ContainerName ?? $"{Name}-{MirrorRegistry.Slug(registry.Host)}";

    /// <summary>The cache volume of <paramref name="registry"/>'s mirror.</summary>
    public string CacheVolume(MirrorRegistry registry) => registry.CacheVolume ?? DefaultCacheVolume(ContainerName(registry));

    public static string DefaultCacheVolume(string containerName) => $"{containerName}-cache";
}

/// <summary>One upstream registry to mirror.</summary>
/// <param name="Host">The registry host as image references name it (docker.io, ghcr.io, quay.io); the key pods' images are matched on.</param>
/// <param name="UpstreamUrl">Its registry API, an absolute http(s) URL (REGISTRY_PROXY_REMOTEURL).</param>
public sealed record MirrorRegistry(string Host, string UpstreamUrl)
{
    /// <summary>Host port; 0 = a free port on <see cref="MirrorSettings.HostAddress"/>, kept across restarts.</summary>
    public int HostPort { get; init; }

    /// <summary>Container name; null = &lt;mirror name&gt;-&lt;host with dots as dashes&gt;.</summary>
    public string? ContainerName { get; init; }

    /// <summary>Named volume holding this registry's cache; survives recreation. Null = "&lt;container name&gt;-cache".</summary>
    public string? CacheVolume { get; init; }

    /// <summary>Upstream credentials (Docker Hub rate limits, private repositories); null = from the environment, else anonymous.</summary>
    public MirrorCredentials? Credentials { get; init; }

    /// <summary>Prefix of the environment variables holding this upstream's credentials, e.g. KUBEDIND_MIRROR_DOCKER_IO.</summary>
    public string CredentialsVariablePrefix => "KUBEDIND_MIRROR_" + new string(Host.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_').ToArray());

    internal static string Slug(string host) => new(host.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray());
}

/// <summary>Credentials for an upstream registry; a token (Docker Hub access token, GitHub PAT) goes in <see cref="Password"/>. Never printed.</summary>
public sealed record MirrorCredentials(string Username, string Password)
{
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Username = ").Append(Username).Append(", Password = ***");
        return true;
    }
}
