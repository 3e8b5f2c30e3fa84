namespace KubeDind.Docker;

/// <summary>Splits and names image references the way the Docker CLI reads them.</summary>
public static class ImageReference
{
    /// <summary>"host:5000/a/b:tag" → ("host:5000/a/b", "tag"); no tag → "latest". Digests stay with the repository.</summary>
    public static (string Repository, string Tag) SplitTag(string image)
    {
        if (image.Contains('@', StringComparison.Ordinal))
        {
            return (image, string.Empty);
        }

        var lastSlash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return colon > lastSlash ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }

    /// <summary>True when the reference names no tag or the tag "latest".</summary>
    public static bool IsFloating(string image)
    {
        var lastSlash = image.LastIndexOf('/');
        var colon = image.LastIndexOf(':');
        return !image.Contains('@', StringComparison.Ordinal) && (colon <= lastSlash || image[(colon + 1)..] == "latest");
    }

    /// <summary>
    /// The fully qualified name containerd stores: "app:1" → "docker.io/library/app:1", "me/app" → "docker.io/me/app:latest";
    /// a first component with a dot, a colon or "localhost" is a registry and stays.
    /// </summary>
    public static string Normalize(string image)
    {
        var slash = image.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? string.Empty : image[..slash];
        var named = slash < 0
            ? "docker.io/library/" + image
            : first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost" ? image : "docker.io/" + image;
        var (repository, tag) = SplitTag(named);
        return tag.Length == 0 ? named : $"{repository}:{tag}";
    }
}
