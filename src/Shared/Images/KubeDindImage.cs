namespace KubeDind.Images;

/// <summary>
/// An image to build and push, the one type every front end declares images with: built on the host's engine first
/// (<see cref="BuildImage"/>) when it has a <see cref="ContextDirectory"/>, else taken as it is from the engine.
/// </summary>
public sealed record KubeDindImage
{
    /// <summary>The build argument that, by default, receives KubeDind's Debian base image.</summary>
    public const string DefaultBaseImageBuildArg = "BASE_IMAGE";

    public KubeDindImage()
    {
    }

    /// <param name="tag">The image on the host's engine, as the manifests name it, e.g. <c>example-app:dev</c>.</param>
    /// <param name="contextDirectory">A build context directory holding a Dockerfile; null = the image already exists.</param>
    public KubeDindImage(string tag, string? contextDirectory = null)
    {
        Tag = tag;
        ContextDirectory = contextDirectory ?? string.Empty;
    }

    /// <summary>The build context: every file under this directory; empty = nothing to build, push the engine's image.</summary>
    public string ContextDirectory { get; init; } = string.Empty;

    /// <summary>The Dockerfile; null = &lt;context&gt;/Dockerfile. One outside the context is added to it as "Dockerfile".</summary>
    public string? Dockerfile { get; init; }

    /// <summary>The tag to build and push, e.g. "example-app:dev".</summary>
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

    /// <summary>True when the image is built before it is pushed (it has a context).</summary>
    public bool IsBuilt => !string.IsNullOrWhiteSpace(ContextDirectory);

    /// <summary>
    /// Checks declared images before anything starts: each has a tag, a buildable one has its context and Dockerfile,
    /// no tag is declared twice. <paramref name="declaredIn"/> names where they were declared, for the error.
    /// </summary>
    public static IReadOnlyList<KubeDindImage> ValidateAll(IEnumerable<KubeDindImage>? images, string declaredIn)
    {
        var list = (images ?? []).ToList();
        foreach (var image in list)
        {
            if (string.IsNullOrWhiteSpace(image.Tag))
            {
                throw new KubeDindException($"An image declared in {declaredIn} has no tag: give each KubeDindImage a tag such as 'my-app:dev'.");
            }

            if (image.IsBuilt)
            {
                BuildImage.Validate(image);
            }
        }

        var duplicate = list.GroupBy(i => i.Tag, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new KubeDindException($"Image '{duplicate.Key}' is declared {duplicate.Count()} times in {declaredIn}: declare each tag once.");
        }

        return list;
    }
}
