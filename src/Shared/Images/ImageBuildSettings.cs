namespace KubeDind.Images;

/// <summary>One settings object for building an application image on the host's engine (<see cref="BuildImage"/>).</summary>
public sealed record ImageBuildSettings
{
    /// <summary>The build argument that, by default, receives KubeDind's Debian base image.</summary>
    public const string DefaultBaseImageBuildArg = "BASE_IMAGE";

    /// <summary>The build context: every file under this directory.</summary>
    public string ContextDirectory { get; init; } = string.Empty;

    /// <summary>The Dockerfile; null = &lt;context&gt;/Dockerfile. One outside the context is added to it as "Dockerfile".</summary>
    public string? Dockerfile { get; init; }

    /// <summary>The tag to build, e.g. "example-app:dev".</summary>
    public string Tag { get; init; } = string.Empty;

    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    /// <summary>Labels for the image.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The build argument that receives KubeDind's Debian base image (made offline from Debian packages when no
    /// registry has one), so <c>FROM ${BASE_IMAGE}</c> needs no registry; null = none. A value in
    /// <see cref="BuildArgs"/> wins.
    /// </summary>
    public string? BaseImageBuildArg { get; init; } = DefaultBaseImageBuildArg;
}
