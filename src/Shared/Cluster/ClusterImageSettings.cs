namespace KubeDind.Cluster;

/// <summary>How to build the kube-dind image (<see cref="ClusterImage"/>).</summary>
public sealed record ClusterImageSettings
{
    /// <summary>
    /// A k3s binary (v1.21+, for the engine's architecture) to put into the image: the air-gapped way to get
    /// Kubernetes. Without it and without <see cref="K3sDownload"/> the image runs in compose mode
    /// (dockerd + registry + docker-compose, no Kubernetes).
    /// </summary>
    public string? K3sBinary { get; init; }

    /// <summary>
    /// Download k3s for the image (<see cref="KubeDind.Cluster.K3sDownload"/>): <see cref="K3sVersion"/>, or the pinned release
    /// when that is null; checksum verified and kept in the host cache, so later builds download nothing.
    /// </summary>
    public bool K3sDownload { get; init; }

    /// <summary>The k3s release <see cref="K3sDownload"/> gets (v1.31.4+k3s1); null = <see cref="KubeDind.Cluster.K3sDownload.PinnedVersion"/>.</summary>
    public string? K3sVersion { get; init; }

    /// <summary>
    /// Where k3s releases are downloaded from (a mirror of https://github.com/k3s-io/k3s/releases/download, same layout);
    /// null = <see cref="KubeDind.Cluster.K3sDownload.ReleaseRootVariable"/>, else GitHub.
    /// </summary>
    public string? K3sDownloadUrl { get; init; }

    /// <summary>
    /// A k3s air-gap images tarball (.tar, .tar.gz, .tgz or .tar.zst) baked into the image, which k3s imports into
    /// containerd at every start; with it CoreDNS, local-path storage and metrics-server run without a registry.
    /// <see cref="ClusterSettings.AirgapImages"/> does the same without rebuilding the image.
    /// </summary>
    public string? AirgapImagesTarball { get; init; }

    /// <summary>Build even when an image with the same context hash exists.</summary>
    public bool Force { get; init; }

    /// <summary>
    /// The tag to build; when null, a tag naming the inputs (<see cref="ClusterImage.TagFor"/>), so builds with
    /// different inputs on one engine never replace each other's image.
    /// </summary>
    public string? Tag { get; init; }
}

/// <summary>The kube-dind image that <see cref="ClusterImage.EnsureAsync"/> built or found.</summary>
/// <param name="Tag">The image's tag, e.g. kubedind/kube-dind:0.1.0.</param>
/// <param name="K3sVersion">The k3s version inside, or null in compose mode (no Kubernetes).</param>
/// <param name="SizeBytes">The image's size on the engine.</param>
public sealed record ClusterImageInfo(string Tag, string? K3sVersion, long SizeBytes)
{
    public bool HasKubernetes => K3sVersion is not null;

    /// <summary>"603 MB, k3s v1.33.7+k3s1" or "603 MB, no Kubernetes (compose mode)".</summary>
    public string Describe() =>
        $"{SizeBytes / 1_000_000.0:0} MB, {(K3sVersion is null ? "no Kubernetes (compose mode)" : "k3s " + K3sVersion)}";
}
