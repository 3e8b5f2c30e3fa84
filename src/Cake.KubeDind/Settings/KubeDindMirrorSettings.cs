using KubeDind.Mirror;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindStartMirror</c>: the host-side registry mirror kept running between builds.
/// Every property left null keeps the core's default (<see cref="MirrorSettings"/>).
/// </summary>
public sealed class KubeDindMirrorSettings
{
    /// <summary>Container name and network alias; default <c>kubedind-mirror</c>.</summary>
    public string? Name { get; set; }

    /// <summary>The registry the mirror caches; default Docker Hub.</summary>
    public string? UpstreamUrl { get; set; }

    /// <summary>Host address the mirror publishes on; default 127.0.0.1.</summary>
    public string? HostAddress { get; set; }

    /// <summary>Host port; null or 0 = a free port.</summary>
    public int? HostPort { get; set; }

    /// <summary>Named volume holding the cache (it survives everything); default <c>&lt;name&gt;-cache</c>.</summary>
    public string? CacheVolume { get; set; }

    /// <summary>Registry image; default registry:2 when present, else one built from Debian packages.</summary>
    public string? Image { get; set; }

    public TimeSpan? ReadinessTimeout { get; set; }

    internal MirrorSettings ToCore()
    {
        var core = new MirrorSettings();
        return core with
        {
            Name = Name ?? core.Name,
            UpstreamUrl = UpstreamUrl ?? core.UpstreamUrl,
            HostAddress = HostAddress ?? core.HostAddress,
            HostPort = HostPort ?? core.HostPort,
            CacheVolume = CacheVolume ?? core.CacheVolume,
            Image = Image ?? core.Image,
            ReadinessTimeout = ReadinessTimeout ?? core.ReadinessTimeout,
        };
    }
}

public static class KubeDindMirrorSettingsExtensions
{
    public static KubeDindMirrorSettings WithName(this KubeDindMirrorSettings settings, string name) => Set(settings, s => s.Name = name);

    public static KubeDindMirrorSettings WithUpstream(this KubeDindMirrorSettings settings, string upstreamUrl) => Set(settings, s => s.UpstreamUrl = upstreamUrl);

    public static KubeDindMirrorSettings WithHostPort(this KubeDindMirrorSettings settings, int port, string? address = null) =>
        Set(settings, s =>
        {
            s.HostPort = port;
            s.HostAddress = address ?? s.HostAddress;
        });

    public static KubeDindMirrorSettings WithCacheVolume(this KubeDindMirrorSettings settings, string volume) => Set(settings, s => s.CacheVolume = volume);

    public static KubeDindMirrorSettings WithImage(this KubeDindMirrorSettings settings, string image) => Set(settings, s => s.Image = image);

    public static KubeDindMirrorSettings WithReadinessTimeout(this KubeDindMirrorSettings settings, TimeSpan timeout) => Set(settings, s => s.ReadinessTimeout = timeout);

    private static KubeDindMirrorSettings Set(KubeDindMirrorSettings settings, Action<KubeDindMirrorSettings> change)
    {
        ArgumentNullException.ThrowIfNull(settings);
        change(settings);
        return settings;
    }
}
