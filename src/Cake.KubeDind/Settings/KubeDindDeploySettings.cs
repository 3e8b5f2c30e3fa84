using Cake.Core.IO;
using KubeDind.Deploy;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindDeploy</c>: the core's <see cref="DeploySettings"/> (which manifests, how long to wait;
/// diagnostics go to the cluster's ArtifactsDirectory), changed through the <c>With...</c> methods or
/// <c>Configure(s =&gt; s with { ... })</c>. Relative manifest paths are resolved against Cake's working directory.
/// </summary>
public sealed class KubeDindDeploySettings
{
    /// <summary>The core's settings this wraps; every member has a working default.</summary>
    public DeploySettings Core { get; set; } = new();

    internal DeploySettings ToCore(DirectoryPath workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(workingDirectory);
        var baseDirectory = Core.BaseDirectory is null ? workingDirectory : new DirectoryPath(Core.BaseDirectory).MakeAbsolute(workingDirectory);
        return Core with { BaseDirectory = baseDirectory.FullPath };
    }
}

public static class KubeDindDeploySettingsExtensions
{
    public static KubeDindDeploySettings Configure(this KubeDindDeploySettings settings, Func<DeploySettings, DeploySettings> change) => Set(settings, change);

    /// <summary>Adds manifest files, directories (every *.yaml/*.yml/*.json inside) or globs ("deploy/*.yaml").</summary>
    public static KubeDindDeploySettings WithManifests(this KubeDindDeploySettings settings, params string[] manifests) => Set(settings, s => s with { Manifests = [.. s.Manifests, .. manifests] });

    public static KubeDindDeploySettings WithManifest(this KubeDindDeploySettings settings, FilePath manifest) => WithManifests(settings, manifest.FullPath);

    public static KubeDindDeploySettings WithManifestDirectory(this KubeDindDeploySettings settings, DirectoryPath directory) => WithManifests(settings, directory.FullPath);

    /// <summary>Adds a manifest given as YAML text.</summary>
    public static KubeDindDeploySettings WithInlineManifest(this KubeDindDeploySettings settings, string yaml) => Set(settings, s => s with { InlineManifests = [.. s.InlineManifests, yaml] });

    /// <summary>Where relative manifest paths are resolved; default Cake's working directory.</summary>
    public static KubeDindDeploySettings WithBaseDirectory(this KubeDindDeploySettings settings, DirectoryPath directory) => Set(settings, s => s with { BaseDirectory = directory.FullPath });

    /// <summary>Namespace for objects that name none (created when missing); default "default".</summary>
    public static KubeDindDeploySettings WithNamespace(this KubeDindDeploySettings settings, string @namespace) => Set(settings, s => s with { Namespace = @namespace });

    /// <summary>Image in the manifests → image to use; images pushed or loaded in this run are rewritten without this.</summary>
    public static KubeDindDeploySettings WithImageRewrite(this KubeDindDeploySettings settings, string image, string replacement) =>
        Set(settings, s => s with { ImageRewrites = new Dictionary<string, string>(s.ImageRewrites, StringComparer.Ordinal) { [image] = replacement } });

    public static KubeDindDeploySettings WithWaitForRollout(this KubeDindDeploySettings settings, bool wait = true) => Set(settings, s => s with { WaitForRollout = wait });

    /// <summary>The whole deploy (apply and rollout) must finish within this time; default 5 minutes.</summary>
    public static KubeDindDeploySettings WithTimeout(this KubeDindDeploySettings settings, TimeSpan timeout) => Set(settings, s => s with { Timeout = timeout });

    /// <summary>Stop waiting at the first failure that does not fix itself (ImagePullBackOff, CrashLoopBackOff ...); default true.</summary>
    public static KubeDindDeploySettings WithFailFast(this KubeDindDeploySettings settings, bool failFast = true) => Set(settings, s => s with { FailFast = failFast });

    public static KubeDindDeploySettings WithFieldManager(this KubeDindDeploySettings settings, string fieldManager) => Set(settings, s => s with { FieldManager = fieldManager });

    public static KubeDindDeploySettings WithPollInterval(this KubeDindDeploySettings settings, TimeSpan interval) => Set(settings, s => s with { PollInterval = interval });

    /// <summary>Log lines kept per container in a diagnostics bundle.</summary>
    public static KubeDindDeploySettings WithLogTailLines(this KubeDindDeploySettings settings, int lines) => Set(settings, s => s with { LogTailLines = lines });

    private static KubeDindDeploySettings Set(KubeDindDeploySettings settings, Func<DeploySettings, DeploySettings> change)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Core = change(settings.Core);
        return settings;
    }
}
