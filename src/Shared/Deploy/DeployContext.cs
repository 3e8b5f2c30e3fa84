using KubeDind.Diagnostics;
using KubeDind.Logging;

namespace KubeDind.Deploy;

/// <summary>
/// What the cluster hands to a deploy: its name (names the diagnostics folder), where artifacts go,
/// the log, the images pushed or loaded in this run, and a way to read logs only the cluster can reach.
/// </summary>
internal sealed record DeployContext
{
    public required string ClusterName { get; init; }

    /// <summary>Diagnostics bundles are written under <c>&lt;ArtifactsDirectory&gt;/&lt;ClusterName&gt;/</c>.</summary>
    public string ArtifactsDirectory { get; init; } = Path.Combine("artifacts", "kubedind");

    public IKubeDindLog Log { get; init; } = NullKubeDindLog.Instance;

    /// <summary>Images pushed or loaded in this run: the name used locally → the reference the cluster pulls.</summary>
    public IReadOnlyDictionary<string, string> PushedImages { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Logs of the cluster's own processes (k3s, inner dockerd), by name; supplied by the cluster because
    /// reading them means exec into its container. Null when there are none.
    /// </summary>
    public Func<CancellationToken, Task<IReadOnlyDictionary<string, string>>>? ExtraLogs { get; init; }

    /// <summary>What the cluster knows about itself for the report (k3s version, components, mirror usage); null when nothing.</summary>
    public Func<CancellationToken, Task<IReadOnlyList<ClusterFact>>>? Facts { get; init; }

    /// <summary>
    /// The components the cluster runs (dns, storage, ingress, ...), as its image reports them; empty where nothing is
    /// known of them (an existing cluster), and then no object is named unserved.
    /// </summary>
    public IReadOnlyList<Cluster.ClusterComponent> Components { get; init; } = [];

    /// <summary>Reads kube-proxy's rules on every node (in the cluster's containers); null where there are none to read (an existing cluster).</summary>
    public INodeRoutesReader? NodeRoutes { get; init; }

    /// <summary>Renders kustomizations (in the cluster's container); null where there is no container (an existing cluster).</summary>
    public IKustomize? Kustomize { get; init; }
}
