using Cake.Core.IO;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindBuildImage</c>: builds an image on the host's engine from a directory, with
/// <c>BASE_IMAGE</c> set to KubeDind's Debian base (so a Dockerfile starting <c>ARG BASE_IMAGE</c> /
/// <c>FROM ${BASE_IMAGE}</c> needs no registry).
/// </summary>
public sealed class KubeDindBuildImageSettings
{
    /// <summary>The build context: every file under this directory.</summary>
    public DirectoryPath? ContextDirectory { get; set; }

    /// <summary>The Dockerfile; default &lt;context&gt;/Dockerfile. One outside the context is added to it as "Dockerfile".</summary>
    public FilePath? Dockerfile { get; set; }

    /// <summary>The tag to build, e.g. "example-app:dev".</summary>
    public string? Tag { get; set; }

    public Dictionary<string, string> BuildArgs { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);

    /// <summary>Set the BASE_IMAGE build argument to KubeDind's base image (made when missing) unless given; default true.</summary>
    public bool FillBaseImage { get; set; } = true;

    internal ImageBuildRequest ToRequest(DirectoryPath workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(workingDirectory);
        if (ContextDirectory is null)
        {
            throw new global::KubeDind.KubeDindException("KubeDindBuildImage: no ContextDirectory; set it to the folder to build (e.g. the app's publish folder).");
        }

        if (string.IsNullOrWhiteSpace(Tag))
        {
            throw new global::KubeDind.KubeDindException("KubeDindBuildImage: no Tag; set one such as \"example-app:dev\" to push and deploy it by.");
        }

        var context = ContextDirectory.MakeAbsolute(workingDirectory).FullPath;
        return new ImageBuildRequest(
            context,
            Dockerfile?.MakeAbsolute(workingDirectory).FullPath,
            Tag,
            new Dictionary<string, string>(BuildArgs, StringComparer.Ordinal),
            new Dictionary<string, string>(Labels, StringComparer.Ordinal),
            FillBaseImage && !BuildArgs.ContainsKey(ImageBuildRequest.BaseImageArgument));
    }
}

/// <summary>What the core builds: absolute paths, the tag, the arguments, and whether to fill BASE_IMAGE.</summary>
internal sealed record ImageBuildRequest(
    string ContextDirectory,
    string? Dockerfile,
    string Tag,
    IReadOnlyDictionary<string, string> BuildArgs,
    IReadOnlyDictionary<string, string> Labels,
    bool FillBaseImage)
{
    public const string BaseImageArgument = "BASE_IMAGE";
}

public static class KubeDindBuildImageSettingsExtensions
{
    public static KubeDindBuildImageSettings WithContext(this KubeDindBuildImageSettings settings, DirectoryPath directory) => Set(settings, s => s.ContextDirectory = directory);

    public static KubeDindBuildImageSettings WithDockerfile(this KubeDindBuildImageSettings settings, FilePath dockerfile) => Set(settings, s => s.Dockerfile = dockerfile);

    public static KubeDindBuildImageSettings WithTag(this KubeDindBuildImageSettings settings, string tag) => Set(settings, s => s.Tag = tag);

    public static KubeDindBuildImageSettings WithBuildArg(this KubeDindBuildImageSettings settings, string name, string value) => Set(settings, s => s.BuildArgs[name] = value);

    public static KubeDindBuildImageSettings WithLabel(this KubeDindBuildImageSettings settings, string name, string value) => Set(settings, s => s.Labels[name] = value);

    public static KubeDindBuildImageSettings WithBaseImage(this KubeDindBuildImageSettings settings, bool fill = true) => Set(settings, s => s.FillBaseImage = fill);

    private static KubeDindBuildImageSettings Set(KubeDindBuildImageSettings settings, Action<KubeDindBuildImageSettings> change)
    {
        ArgumentNullException.ThrowIfNull(settings);
        change(settings);
        return settings;
    }
}
