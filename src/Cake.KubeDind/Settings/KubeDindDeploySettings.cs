using Cake.Core.IO;
using KubeDind.Deploy;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindDeploy</c>: which manifests, where artifacts go, how long to wait. Every property
/// left null keeps the core's default (<see cref="DeploySettings"/>); relative paths are resolved against
/// Cake's working directory.
/// </summary>
public sealed class KubeDindDeploySettings
{
    /// <summary>Manifest files, directories (every *.yaml/*.yml/*.json inside) or globs ("deploy/*.yaml").</summary>
    public List<string> Manifests { get; } = [];

    /// <summary>Manifests as YAML text.</summary>
    public List<string> InlineManifests { get; } = [];

    /// <summary>Where relative manifest paths are resolved; default Cake's working directory.</summary>
    public DirectoryPath? BaseDirectory { get; set; }

    /// <summary>Namespace for objects that name none (created when missing); default "default".</summary>
    public string? Namespace { get; set; }

    /// <summary>Image in the manifests → image to use; images pushed or loaded in this run are rewritten without this.</summary>
    public Dictionary<string, string> ImageRewrites { get; } = new(StringComparer.Ordinal);

    public bool? WaitForRollout { get; set; }

    /// <summary>The whole deploy (apply and rollout) must finish within this time; default 5 minutes.</summary>
    public TimeSpan? Timeout { get; set; }

    /// <summary>Stop waiting at the first failure that does not fix itself (ImagePullBackOff, CrashLoopBackOff ...); default true.</summary>
    public bool? FailFast { get; set; }

    public string? FieldManager { get; set; }

    public TimeSpan? PollInterval { get; set; }

    /// <summary>Log lines kept per container in a diagnostics bundle.</summary>
    public int? LogTailLines { get; set; }

    /// <summary>Diagnostics bundles go under &lt;this&gt;/&lt;cluster name&gt;/; default artifacts/kubedind.</summary>
    public DirectoryPath? ArtifactsDirectory { get; set; }

    internal DeploySettings ToCore(DirectoryPath workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(workingDirectory);
        var core = new DeploySettings();
        return core with
        {
            Manifests = [.. Manifests],
            InlineManifests = [.. InlineManifests],
            BaseDirectory = (BaseDirectory ?? workingDirectory).MakeAbsolute(workingDirectory).FullPath,
            Namespace = Namespace,
            ImageRewrites = new Dictionary<string, string>(ImageRewrites, StringComparer.Ordinal),
            WaitForRollout = WaitForRollout ?? core.WaitForRollout,
            Timeout = Timeout ?? core.Timeout,
            FailFast = FailFast ?? core.FailFast,
            FieldManager = FieldManager ?? core.FieldManager,
            PollInterval = PollInterval ?? core.PollInterval,
            LogTailLines = LogTailLines ?? core.LogTailLines,
        };
    }

    internal string ArtifactsDirectoryFor(DirectoryPath workingDirectory) => KubeDindPaths.Artifacts(ArtifactsDirectory, workingDirectory);
}

public static class KubeDindDeploySettingsExtensions
{
    /// <summary>Adds manifest files, directories or globs.</summary>
    public static KubeDindDeploySettings WithManifests(this KubeDindDeploySettings settings, params string[] manifests) => Set(settings, s => s.Manifests.AddRange(manifests));

    public static KubeDindDeploySettings WithManifest(this KubeDindDeploySettings settings, FilePath manifest) => Set(settings, s => s.Manifests.Add(manifest.FullPath));

    public static KubeDindDeploySettings WithManifestDirectory(this KubeDindDeploySettings settings, DirectoryPath directory) => Set(settings, s => s.Manifests.Add(directory.FullPath));

    public static KubeDindDeploySettings WithInlineManifest(this KubeDindDeploySettings settings, string yaml) => Set(settings, s => s.InlineManifests.Add(yaml));

    public static KubeDindDeploySettings WithBaseDirectory(this KubeDindDeploySettings settings, DirectoryPath directory) => Set(settings, s => s.BaseDirectory = directory);

    public static KubeDindDeploySettings WithNamespace(this KubeDindDeploySettings settings, string @namespace) => Set(settings, s => s.Namespace = @namespace);

    public static KubeDindDeploySettings WithImageRewrite(this KubeDindDeploySettings settings, string image, string replacement) => Set(settings, s => s.ImageRewrites[image] = replacement);

    public static KubeDindDeploySettings WithWaitForRollout(this KubeDindDeploySettings settings, bool wait = true) => Set(settings, s => s.WaitForRollout = wait);

    public static KubeDindDeploySettings WithTimeout(this KubeDindDeploySettings settings, TimeSpan timeout) => Set(settings, s => s.Timeout = timeout);

    public static KubeDindDeploySettings WithFailFast(this KubeDindDeploySettings settings, bool failFast = true) => Set(settings, s => s.FailFast = failFast);

    public static KubeDindDeploySettings WithFieldManager(this KubeDindDeploySettings settings, string fieldManager) => Set(settings, s => s.FieldManager = fieldManager);

    public static KubeDindDeploySettings WithPollInterval(this KubeDindDeploySettings settings, TimeSpan interval) => Set(settings, s => s.PollInterval = interval);

    public static KubeDindDeploySettings WithLogTailLines(this KubeDindDeploySettings settings, int lines) => Set(settings, s => s.LogTailLines = lines);

    public static KubeDindDeploySettings WithArtifactsDirectory(this KubeDindDeploySettings settings, DirectoryPath directory) => Set(settings, s => s.ArtifactsDirectory = directory);

    private static KubeDindDeploySettings Set(KubeDindDeploySettings settings, Action<KubeDindDeploySettings> change)
    {
        ArgumentNullException.ThrowIfNull(settings);
        change(settings);
        return settings;
    }
}
