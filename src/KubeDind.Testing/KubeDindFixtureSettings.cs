using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Images;
using KubeDind.Mirror;
using KubeDind.Run;

namespace KubeDind.Testing;

/// <summary>A Service port the fixture opens at start; tests get its URL from <see cref="KubeDindFixture.ServiceUrl"/>.</summary>
public sealed record FixtureService(string Name, string Port = "http", string Namespace = "default", string Scheme = "http");

/// <summary>What a <see cref="KubeDindFixture"/> starts: the cluster, the images it pushes, what it deploys and which services it opens.</summary>
public sealed record KubeDindFixtureSettings
{
    public ClusterSettings Cluster { get; init; } = new();

    /// <summary>Start (or reuse) the host's registry mirror and pull through it (cache-only where its upstream does not answer); on by default, as in every front end.</summary>
    public bool UseMirror { get; init; } = new KubeDindRunSettings().UseMirror;

    public MirrorSettings Mirror { get; init; } = new();

    public IReadOnlyList<KubeDindImage> Images { get; init; } = [];

    /// <summary>Applied after the images are pushed (their names rewritten); null = deploy nothing.</summary>
    public DeploySettings? Deploy { get; init; }

    public IReadOnlyList<FixtureService> Services { get; init; } = [];

    /// <summary>How long an opened service has to answer (the core's <see cref="ServiceAccess"/> check) before the fixture fails.</summary>
    public TimeSpan ServiceTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Why the tests cannot run here, checked before anything starts; null = run. The default skips a Kubernetes cluster
    /// when nothing names a k3s (image, binary, <c>KUBEDIND_K3S_BINARY</c>, version) and the pinned release cannot be downloaded.
    /// </summary>
    public Func<KubeDindFixtureSettings, string?> SkipWhen { get; init; } = DefaultSkipWhen;

    /// <summary>Keep the cluster after the run (also with the environment variable <c>KUBEDIND_KEEP_CLUSTER=1</c>, as in every front end).</summary>
    public bool KeepCluster { get; init; } = KubeDindRunSettings.KeepClusterFromEnvironment();

    /// <summary>The core's run settings these map onto: the fixture decides nothing the run plan decides.</summary>
    public KubeDindRunSettings ToRunSettings() => new()
    {
        UseMirror = UseMirror,
        Mirror = Mirror,
        Cluster = Cluster,
        Images = Images,
        Deploy = Deploy,
        KeepCluster = KeepCluster,
    };

    public static string? DefaultSkipWhen(KubeDindFixtureSettings settings) =>
        NeedsK3s(settings)
            ? $"no k3s binary: set {ClusterImage.K3sBinaryVariable} to a k3s v1.21+ binary to run the Kubernetes tests (the pinned k3s {K3sDownload.PinnedVersion} cannot be downloaded here either)"
            : null;

    /// <summary>True when the cluster wants Kubernetes and nothing names a k3s for it (no image, binary, version or download).</summary>
    public static bool NeedsK3s(KubeDindFixtureSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var cluster = settings.Cluster;
        return cluster.Kubernetes && cluster.Image is null && cluster.K3sVersion is null && cluster.ImageBuild is null or { K3sBinary: null, K3sDownload: false, K3sVersion: null }
            && ClusterImage.K3sBinaryFromEnvironment() is null;
    }
}
