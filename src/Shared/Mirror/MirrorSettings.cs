namespace KubeDind.Mirror;

// CONTRACT STUB (helper "mirror" fills in): one settings object for the host-side registry mirror.
public sealed record MirrorSettings
{
    public string Name { get; init; } = "kubedind-mirror";

    public string UpstreamUrl { get; init; } = "https://registry-1.docker.io";

    /// <summary>Host address the mirror publishes on; port 0 = a free port on 127.0.0.1.</summary>
    public string HostAddress { get; init; } = "127.0.0.1";

    public int HostPort { get; init; }

    /// <summary>Named volume holding the cache; survives recreation.</summary>
    public string? CacheVolume { get; init; }

    /// <summary>Registry image; null = registry:2 if available, else built from Debian's docker-registry.</summary>
    public string? Image { get; init; }

    public TimeSpan ReadinessTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
