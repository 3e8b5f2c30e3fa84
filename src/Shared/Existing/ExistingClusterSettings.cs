using KubeDind.Cluster;

namespace KubeDind.Existing;

/// <summary>
/// One settings object for connecting to a cluster that already exists (a staging or shared test cluster):
/// which kubeconfig and context, which namespace, and which registry pushed images go to.
/// </summary>
public sealed record ExistingClusterSettings
{
    /// <summary>The kubeconfig file; null = the first file in KUBECONFIG, else ~/.kube/config.</summary>
    public string? Kubeconfig { get; init; }

    /// <summary>The context to use; null = the kubeconfig's current-context.</summary>
    public string? Context { get; init; }

    /// <summary>The cluster's name in logs and artifacts; null = the context's name.</summary>
    public string? Name { get; init; }

    /// <summary>
    /// The namespace Deploy uses for objects that name none (created when missing, never deleted); null = "default".
    /// Ignored when <see cref="ThrowawayNamespace"/> is set.
    /// </summary>
    public string? Namespace { get; init; }

    /// <summary>
    /// Create a namespace for this run (<see cref="ThrowawayNamespacePrefix"/> + run id), labelled with its owner, and delete
    /// it at teardown; one left behind by a run that died is removed by the next connect (or <see cref="ExistingCluster.SweepNamespacesAsync"/>).
    /// </summary>
    public bool ThrowawayNamespace { get; init; }

    public string ThrowawayNamespacePrefix { get; init; } = "kubedind-";

    /// <summary>
    /// The registry PushImage pushes to, as the host's Docker engine reaches it: <c>host[:port][/path]</c>, e.g.
    /// <c>registry.example.com/team</c>. Null = PushImage fails with a one-line error (an existing cluster has no KubeDind registry).
    /// </summary>
    public string? Registry { get; init; }

    /// <summary>The same registry as the cluster's nodes pull from it, when that name differs; null = <see cref="Registry"/>.</summary>
    public string? RegistryPullName { get; init; }

    /// <summary>Credentials for <see cref="Registry"/>; null = anonymous (or what the engine is logged in with).</summary>
    public string? RegistryUsername { get; init; }

    public string? RegistryPassword { get; init; }

    /// <summary>How long the API server has to answer the first request.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Where diagnostics bundles go, in &lt;ArtifactsDirectory&gt;/&lt;name&gt;/.</summary>
    public string ArtifactsDirectory { get; init; } = Path.Combine("artifacts", "kubedind");

    /// <summary>With <see cref="ThrowawayNamespace"/>: first remove throwaway namespaces of runs that died (see <see cref="SweepSettings"/>).</summary>
    public bool SweepFirst { get; init; } = true;

    /// <summary>What counts as a dead run's namespace when sweeping.</summary>
    public SweepSettings Sweep { get; init; } = new();
}
