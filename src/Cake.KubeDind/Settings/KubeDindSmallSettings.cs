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
/// Settings for <c>KubeDindRunJob</c>: a Job manifest (<see cref="Manifest"/> or <see cref="InlineManifest"/>), or an
/// <see cref="Image"/> and <see cref="Command"/> run once.
/// </summary>
public sealed class KubeDindJobSettings
{
    public FilePath? Manifest { get; set; }

    public string? InlineManifest { get; set; }

    public string? Image { get; set; }

    public IList<string> Command { get; } = [];

    /// <summary>The Job's name for an image run; default "kubedind-job-&lt;random&gt;".</summary>
    public string? Name { get; set; }

    public string Namespace { get; set; } = "default";

    public IDictionary<string, string> ImageRewrites { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    public TimeSpan? Timeout { get; set; }

    internal JobRunSettings ToCore(DirectoryPath workingDirectory)
    {
        var core = new JobRunSettings();
        return core with
        {
            Manifest = Manifest?.MakeAbsolute(workingDirectory).FullPath,
            InlineManifest = InlineManifest,
            Image = Image,
            Command = [.. Command],
            Name = Name,
            Namespace = Namespace,
            ImageRewrites = new Dictionary<string, string>(ImageRewrites, StringComparer.Ordinal),
            Timeout = Timeout ?? core.Timeout,
        };
    }
}

public static class KubeDindSmallSettingsExtensions
{
    public static KubeDindLogsSettings WithNamespace(this KubeDindLogsSettings settings, string @namespace) => Set(settings, s => s.Namespace = @namespace);

    public static KubeDindLogsSettings WithTailLines(this KubeDindLogsSettings settings, int lines) => Set(settings, s => s.TailLines = lines);

    public static KubeDindJobSettings WithManifest(this KubeDindJobSettings settings, FilePath manifest) => Set(settings, s => s.Manifest = manifest);

    public static KubeDindJobSettings WithInlineManifest(this KubeDindJobSettings settings, string yaml) => Set(settings, s => s.InlineManifest = yaml);

    public static KubeDindJobSettings WithImage(this KubeDindJobSettings settings, string image, params string[] command) => Set(settings, s =>
    {
        s.Image = image;
        s.Command.Clear();
        foreach (var part in command)
        {
            s.Command.Add(part);
        }
    });

    public static KubeDindJobSettings WithName(this KubeDindJobSettings settings, string name) => Set(settings, s => s.Name = name);

    public static KubeDindJobSettings WithNamespace(this KubeDindJobSettings settings, string @namespace) => Set(settings, s => s.Namespace = @namespace);

    public static KubeDindJobSettings WithImageRewrite(this KubeDindJobSettings settings, string from, string to) => Set(settings, s => s.ImageRewrites[from] = to);

    public static KubeDindJobSettings WithTimeout(this KubeDindJobSettings settings, TimeSpan timeout) => Set(settings, s => s.Timeout = timeout);

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
