using Cake.Core.IO;
using KubeDind.Images;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindBuildImage</c>: the core's <see cref="KubeDindImage"/> (an image built on the host's
/// engine from a directory, with <c>BASE_IMAGE</c> set to KubeDind's Debian base so a Dockerfile starting
/// <c>ARG BASE_IMAGE</c> / <c>FROM ${BASE_IMAGE}</c> needs no registry). Relative paths are resolved against Cake's
/// working directory.
/// </summary>
public sealed class KubeDindBuildImageSettings
{
    /// <summary>The core's settings this wraps.</summary>
    public KubeDindImage Core { get; set; } = new();

    internal KubeDindImage ToCore(DirectoryPath workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(workingDirectory);
        return Core with
        {
            ContextDirectory = string.IsNullOrWhiteSpace(Core.ContextDirectory) ? Core.ContextDirectory : new DirectoryPath(Core.ContextDirectory).MakeAbsolute(workingDirectory).FullPath,
            Dockerfile = Core.Dockerfile is null ? null : new FilePath(Core.Dockerfile).MakeAbsolute(workingDirectory).FullPath,
        };
    }
}

public static class KubeDindBuildImageSettingsExtensions
{
    public static KubeDindBuildImageSettings Configure(this KubeDindBuildImageSettings settings, Func<KubeDindImage, KubeDindImage> change) => Set(settings, change);

    /// <summary>The build context: every file under this directory.</summary>
    public static KubeDindBuildImageSettings WithContext(this KubeDindBuildImageSettings settings, DirectoryPath directory) => Set(settings, s => s with { ContextDirectory = directory.FullPath });

    /// <summary>The Dockerfile; default &lt;context&gt;/Dockerfile. One outside the context is added to it as "Dockerfile".</summary>
    public static KubeDindBuildImageSettings WithDockerfile(this KubeDindBuildImageSettings settings, FilePath dockerfile) => Set(settings, s => s with { Dockerfile = dockerfile.FullPath });

    public static KubeDindBuildImageSettings WithTag(this KubeDindBuildImageSettings settings, string tag) => Set(settings, s => s with { Tag = tag });

    public static KubeDindBuildImageSettings WithBuildArg(this KubeDindBuildImageSettings settings, string name, string value) =>
        Set(settings, s => s with { BuildArgs = new Dictionary<string, string>(s.BuildArgs, StringComparer.Ordinal) { [name] = value } });

    public static KubeDindBuildImageSettings WithLabel(this KubeDindBuildImageSettings settings, string name, string value) =>
        Set(settings, s => s with { Labels = new Dictionary<string, string>(s.Labels, StringComparer.Ordinal) { [name] = value } });

    /// <summary>
    /// Passes KubeDind's Debian base image (made offline when no registry has one) in the build argument
    /// <paramref name="name"/> (the default is <c>BASE_IMAGE</c>, already on); a value given with WithBuildArg wins.
    /// </summary>
    public static KubeDindBuildImageSettings WithBaseImageBuildArg(this KubeDindBuildImageSettings settings, string name = KubeDindImage.DefaultBaseImageBuildArg) =>
        Set(settings, s => s with { BaseImageBuildArg = name });

    /// <summary>Passes no base image: the Dockerfile names its own, which the engine must have or pull.</summary>
    public static KubeDindBuildImageSettings WithoutBaseImageBuildArg(this KubeDindBuildImageSettings settings) => Set(settings, s => s with { BaseImageBuildArg = null });

    private static KubeDindBuildImageSettings Set(KubeDindBuildImageSettings settings, Func<KubeDindImage, KubeDindImage> change)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Core = change(settings.Core);
        return settings;
    }
}
