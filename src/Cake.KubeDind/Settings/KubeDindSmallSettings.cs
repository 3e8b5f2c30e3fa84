using KubeDind.Cluster;
using KubeDind.Mirror;

namespace Cake.KubeDind;

/// <summary>Settings for <c>KubeDindPushImage</c>.</summary>
public sealed class KubeDindPushSettings
{
    /// <summary>"repo" or "repo:tag" to push under in the cluster's registry; default the host image's repository (a floating tag becomes a fixed one).</summary>
    public string? Name { get; set; }
}

/// <summary>Settings for <c>KubeDindTeardown</c>.</summary>
public sealed class KubeDindTeardownSettings
{
    /// <summary>Also stop and remove the mirror of this name (its cache volume always stays); null = leave the mirror running for the next build.</summary>
    public string? StopMirror { get; set; }

    internal TeardownSettings ToCore() => new() { MirrorName = StopMirror };
}

/// <summary>Settings for <c>KubeDindSweep</c>.</summary>
public sealed class KubeDindSweepSettings
{
    /// <summary>Remove KubeDind clusters of dead runs older than this; default 6 hours.</summary>
    public TimeSpan? MaxAge { get; set; }

    internal SweepSettings ToCore()
    {
        var core = new SweepSettings();
        return core with { MaxAge = MaxAge ?? core.MaxAge };
    }
}

/// <summary>Settings for <c>KubeDindOpenService</c>: which Service port to reach from the host.</summary>
public sealed class KubeDindServiceSettings
{
    public string Namespace { get; set; } = "default";

    public string Scheme { get; set; } = "http";
}

public static class KubeDindSmallSettingsExtensions
{
    public static KubeDindPushSettings WithName(this KubeDindPushSettings settings, string name) => Set(settings, s => s.Name = name);

    public static KubeDindTeardownSettings WithStopMirror(this KubeDindTeardownSettings settings, string mirrorName = MirrorSettings.DefaultName) => Set(settings, s => s.StopMirror = mirrorName);

    public static KubeDindTeardownSettings WithStopMirror(this KubeDindTeardownSettings settings, KubeDindMirror mirror) => Set(settings, s => s.StopMirror = mirror.Name);

    public static KubeDindSweepSettings WithMaxAge(this KubeDindSweepSettings settings, TimeSpan maxAge) => Set(settings, s => s.MaxAge = maxAge);

    public static KubeDindServiceSettings WithNamespace(this KubeDindServiceSettings settings, string @namespace) => Set(settings, s => s.Namespace = @namespace);

    public static KubeDindServiceSettings WithScheme(this KubeDindServiceSettings settings, string scheme) => Set(settings, s => s.Scheme = scheme);

    private static T Set<T>(T settings, Action<T> change)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(settings);
        change(settings);
        return settings;
    }
}
