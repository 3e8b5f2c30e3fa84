namespace KubeDind.Mirror;

/// <summary>
/// One settings object for the host-side registry mirror (a pull-through cache kept running between builds).
/// A running mirror with the same name and settings is reused; different settings recreate it, keeping the cache.
/// </summary>
public sealed record MirrorSettings
{
    public const string DefaultName = "kubedind-mirror";
    public const string DockerHub = "https://registry-1.docker.io";

    /// <summary>Container name, and its alias on the kubedind network (containers reach it at http://name:5000).</summary>
    public string Name { get; init; } = DefaultName;

    /// <summary>The registry this mirror caches (REGISTRY_PROXY_REMOTEURL); an absolute http(s) URL.</summary>
    public string UpstreamUrl { get; init; } = DockerHub;

    /// <summary>Host address the mirror publishes on; port 0 = a free port on 127.0.0.1.</summary>
    public string HostAddress { get; init; } = "127.0.0.1";

    public int HostPort { get; init; }

    /// <summary>Named volume holding the cache; survives recreation. Null = "&lt;name&gt;-cache".</summary>
    public string? CacheVolume { get; init; }

    /// <summary>Registry image; null = registry:2 if available, else built from Debian's docker-registry.</summary>
    public string? Image { get; init; }

    public TimeSpan ReadinessTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The cache volume's name: <see cref="CacheVolume"/> or the default derived from <see cref="Name"/>.</summary>
    public string CacheVolumeName => CacheVolume ?? DefaultCacheVolume(Name);

    public static string DefaultCacheVolume(string name) => $"{name}-cache";
}
