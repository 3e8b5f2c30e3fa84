using KubeDind.Images;
using Nuke.Common.IO;

namespace Nuke.KubeDind;

/// <summary>
/// One image the <see cref="IKubeDind.PushImage"/> target puts into the cluster's registry.
/// With <see cref="Context"/> the image is built first (the core's BuildImage step, through the Docker API);
/// without it the image must already be in the host's engine.
/// </summary>
/// <param name="Tag">Local image reference, e.g. <c>example-app:dev</c>.</param>
/// <param name="Context">Build context directory holding a Dockerfile; null = the image already exists.</param>
public sealed record KubeDindImage(string Tag, AbsolutePath? Context = null)
{
    /// <summary>Build arguments passed to the Dockerfile when <see cref="Context"/> is set.</summary>
    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The Dockerfile's build argument naming its base image (default <c>BASE_IMAGE</c>, as everywhere in KubeDind):
    /// KubeDind's own Debian base image is made (offline from Debian packages when it cannot be pulled) and passed in
    /// it, so the image builds without any registry; null = none.
    /// </summary>
    public string? BaseImageBuildArg { get; init; } = ImageBuildSettings.DefaultBaseImageBuildArg;

    /// <summary>The core's build settings for this image; null when it has no context (nothing to build).</summary>
    internal ImageBuildSettings? ToBuildSettings() => Context is null
        ? null
        : new ImageBuildSettings { ContextDirectory = Context, Tag = Tag, BuildArgs = BuildArgs, BaseImageBuildArg = BaseImageBuildArg };
}
