using Cake.Core.IO;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Mirror;

namespace Cake.KubeDind;

/// <summary>Settings for <c>KubeDindPushImage</c>.</summary>
public sealed class KubeDindPushSettings
{
    /// <summary>"repo" or "repo:tag" to push under in the cluster's registry; default the host image's repository (a floating tag becomes a fixed one).</summary>
    public string? Name { get; set; }
}

/// <summary>Settings for <c>KubeDindTeardown</c>: the core's <see cref="TeardownSettings"/>.</summary>
public sealed class KubeDindTeardownSettings
{
    /// <summary>The core's settings this wraps; by default the mirror stays running for the next build.</summary>
    public TeardownSettings Core { get; set; } = new();

    internal TeardownSettings ToCore() => Core;
}

/// <summary>Settings for <c>KubeDindSweep</c>: the core's <see cref="SweepSettings"/>.</summary>
public sealed class KubeDindSweepSettings
{
    /// <summary>The core's settings this wraps.</summary>
    public SweepSettings Core { get; set; } = new();

    internal SweepSettings ToCore() => Core;
}

/// <summary>Settings for <c>KubeDindOpenService</c>: which Service port to reach from the host.</summary>
public sealed class KubeDindServiceSettings
{
    /// <summary>The Service's namespace; null = the cluster's default namespace ("default", or an existing cluster's run namespace).</summary>
    public string? Namespace { get; set; }

    public string Scheme { get; set; } = "http";
}

/// <summary>Settings for <c>KubeDindReadLogs</c>: where the workload is and how much of each log to read.</summary>
public sealed class KubeDindLogsSettings
{
    public string Namespace { get; set; } = "default";

    /// <summary>Only the last lines of each container's log; all of it when null.</summary>
    public int? TailLines { get; set; }
}

/// <summary>
/// Settings for <c>KubeDindRunJob</c>: the core's <see cref="JobRunSettings"/> (a Job manifest, or an image and command
/// run once), changed through the <c>With...</c> methods or <c>Configure(s =&gt; s with { ... })</c>.
/// </summary>
public sealed class KubeDindJobSettings
{
    /// <summary>The core's settings this wraps.</summary>
    public JobRunSettings Core { get; set; } = new();

    internal JobRunSettings ToCore(DirectoryPath workingDirectory) =>
        Core.Manifest is null ? Core : Core with { Manifest = new FilePath(Core.Manifest).MakeAbsolute(workingDirectory).FullPath };
}

public static class KubeDindSmallSettingsExtensions
{
    public static KubeDindLogsSettings WithNamespace(this KubeDindLogsSettings settings, string @namespace) => Set(settings, s => s.Namespace = @namespace);

    public static KubeDindLogsSettings WithTailLines(this KubeDindLogsSettings settings, int lines) => Set(settings, s => s.TailLines = lines);

    public static KubeDindJobSettings Configure(this KubeDindJobSettings settings, Func<JobRunSettings, JobRunSettings> change) => Set(settings, s => s.Core = change(s.Core));

    /// <summary>A file holding exactly one Job.</summary>
    public static KubeDindJobSettings WithManifest(this KubeDindJobSettings settings, FilePath manifest) => Configure(settings, s => s with { Manifest = manifest.FullPath });

    /// <summary>YAML text holding exactly one Job.</summary>
    public static KubeDindJobSettings WithInlineManifest(this KubeDindJobSettings settings, string yaml) => Configure(settings, s => s with { InlineManifest = yaml });

    /// <summary>Runs <paramref name="image"/> once with <paramref name="command"/> (the image's own when none).</summary>
    public static KubeDindJobSettings WithImage(this KubeDindJobSettings settings, string image, params string[] command) => Configure(settings, s => s with { Image = image, Command = [.. command] });

    /// <summary>The Job's name for an image run; default "kubedind-job-&lt;random&gt;".</summary>
    public static KubeDindJobSettings WithName(this KubeDindJobSettings settings, string name) => Configure(settings, s => s with { Name = name });

    public static KubeDindJobSettings WithNamespace(this KubeDindJobSettings settings, string @namespace) => Configure(settings, s => s with { Namespace = @namespace });

    public static KubeDindJobSettings WithImageRewrite(this KubeDindJobSettings settings, string from, string to) =>
        Configure(settings, s => s with { ImageRewrites = new Dictionary<string, string>(s.ImageRewrites, StringComparer.Ordinal) { [from] = to } });

    public static KubeDindJobSettings WithTimeout(this KubeDindJobSettings settings, TimeSpan timeout) => Configure(settings, s => s with { Timeout = timeout });

    public static KubeDindPushSettings WithName(this KubeDindPushSettings settings, string name) => Set(settings, s => s.Name = name);

    /// <summary>Also stops and removes the mirror of this name (its cache volume always stays).</summary>
    public static KubeDindTeardownSettings WithStopMirror(this KubeDindTeardownSettings settings, string mirrorName = MirrorSettings.DefaultName) => Set(settings, s => s.Core = s.Core with { MirrorName = mirrorName });

    public static KubeDindTeardownSettings WithStopMirror(this KubeDindTeardownSettings settings, KubeDindMirror mirror) => Set(settings, s => s.Core = s.Core with { MirrorName = mirror.Name });

    /// <summary>Removes KubeDind clusters of dead runs older than this; default 6 hours.</summary>
    public static KubeDindSweepSettings WithMaxAge(this KubeDindSweepSettings settings, TimeSpan maxAge) => Set(settings, s => s.Core = s.Core with { MaxAge = maxAge });

    public static KubeDindSweepSettings WithAllState(this KubeDindSweepSettings settings, bool allState = true) => Set(settings, s => s.Core = s.Core with { AllState = allState });

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
