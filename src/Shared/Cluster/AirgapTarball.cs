namespace KubeDind.Cluster;

/// <summary>
/// The k3s air-gap images tarballs KubeDind takes: the kinds k3s imports from its images directory that the image's
/// own reader (<c>airgap_image_names</c> in image/.../kubernetes.sh) can also list the images of, so that a component
/// whose images a tarball holds is never reported missing and replaced by a fallback.
/// </summary>
public static class AirgapTarball
{
    public static readonly IReadOnlyList<string> Suffixes = [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst"];

    /// <summary>The suffix of <paramref name="path"/> among <see cref="Suffixes"/> (the longest that fits), or null.</summary>
    public static string? SuffixOf(string path) =>
        Suffixes.OrderByDescending(s => s.Length).FirstOrDefault(s => path.EndsWith(s, StringComparison.OrdinalIgnoreCase));

    /// <summary>"k3s-airgap-images-&lt;arch&gt;.tar, .tar.gz, .tgz, .tar.zst or .tzst", for error messages.</summary>
    public static string Described => $"k3s-airgap-images-<arch>{string.Join(", ", Suffixes.SkipLast(1))} or {Suffixes[^1]}";
}
