using System.Collections.Concurrent;
using k8s;
using KubeDind.Docker;

namespace KubeDind.Cluster;

/// <summary>How long each part of a cluster start took, measured from the start of <see cref="StartCluster.RunAsync"/>.</summary>
/// <param name="ImageReady">The image was found or built.</param>
/// <param name="ContainerStarted">The container was created and started (fallback retry included).</param>
/// <param name="Gates">Each readiness gate, with the time it passed.</param>
/// <param name="Ready">Every gate passed and the kubeconfig was written.</param>
public sealed record ClusterTimings(TimeSpan ImageReady, TimeSpan ContainerStarted, IReadOnlyList<(string Gate, TimeSpan Elapsed)> Gates, TimeSpan Ready)
{
    public override string ToString() =>
        $"image {ImageReady.TotalSeconds:0.0}s, container started {ContainerStarted.TotalSeconds:0.0}s, "
        + string.Join(", ", Gates.Select(g => $"{g.Gate} {g.Elapsed.TotalSeconds:0.0}s"))
        + $", ready {Ready.TotalSeconds:0.0}s";
}

/// <summary>
/// A running kube-dind cluster: one container with dockerd, a registry on :5000 and (unless in compose
/// mode) single-node k3s. Disposing it tears it down.
/// </summary>
public sealed partial class KubeDindCluster : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, string> _images = new(StringComparer.Ordinal);
    private IKubernetes? _client;
    private int _tornDown;

    internal KubeDindCluster(KubeDindSession session, ClusterSettings settings)
    {
        Session = session;
        Settings = settings;
    }

    public required string Name { get; init; }

    public required string ContainerId { get; init; }

    /// <summary>The image the container runs.</summary>
    public required string Image { get; init; }

    /// <summary>False in compose mode (dockerd + registry, no Kubernetes).</summary>
    public required bool HasKubernetes { get; init; }

    /// <summary>The privilege mode the container actually runs with (Auto resolved).</summary>
    public required PrivilegeMode Privilege { get; init; }

    /// <summary>The registry as the host's engine reaches it, e.g. 127.0.0.1:41234 (push there).</summary>
    public required string RegistryHostEndpoint { get; init; }

    /// <summary>The registry as the cluster reaches it: pods name images <c>localhost:5000/name:tag</c>.</summary>
    public string RegistryClusterName => "localhost:5000";

    /// <summary>The Kubernetes API on the host, e.g. https://127.0.0.1:41235; null in compose mode.</summary>
    public string? ApiEndpoint { get; init; }

    /// <summary>The per-run kubeconfig (mode 0600); null in compose mode.</summary>
    public string? KubeconfigPath { get; init; }

    /// <summary>The Kubernetes version k3s reports, or null in compose mode.</summary>
    public string? KubernetesVersion { get; init; }

    /// <summary>The Docker network the container joined (shared with the mirror).</summary>
    public required string Network { get; init; }

    /// <summary>Extra published ports: container port → host port.</summary>
    public required IReadOnlyDictionary<int, int> PublishedPorts { get; init; }

    public required ClusterTimings Timings { get; init; }

    /// <summary>Images pushed or loaded in this run: the host name → the reference the cluster uses.</summary>
    public IReadOnlyDictionary<string, string> Images => _images;

    internal KubeDindSession Session { get; }

    internal ClusterSettings Settings { get; }

    internal bool IsTornDown => Volatile.Read(ref _tornDown) != 0;

    /// <summary>A client for the cluster's API (from the per-run kubeconfig); a one-line error in compose mode.</summary>
    public IKubernetes Kubernetes
    {
        get
        {
            RequireKubernetes("the Kubernetes client");
            return _client ??= CreateClient(KubeconfigPath!);
        }
    }

    /// <summary>The host port published for <paramref name="containerPort"/> (one of <see cref="ClusterSettings.Ports"/>).</summary>
    public int HostPort(int containerPort) =>
        PublishedPorts.TryGetValue(containerPort, out var port)
            ? port
            : throw new KubeDindException($"cluster {Name}: container port {containerPort} is not published; add new PortMapping({containerPort}) to ClusterSettings.Ports.");

    /// <summary>Runs a command inside the cluster container (like <c>docker exec &lt;cluster&gt; kubectl get pods</c>).</summary>
    public Task<ExecResult> ExecAsync(params string[] command) => ExecAsync(command, null, CancellationToken.None);

    public async Task<ExecResult> ExecAsync(IReadOnlyList<string> command, Stream? standardInput, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (command.Count == 0)
        {
            throw new KubeDindException($"cluster {Name}: ExecAsync needs a command, e.g. ExecAsync(\"kubectl\", \"get\", \"pods\").");
        }

        if (command[0] is "kubectl" or "k3s")
        {
            RequireKubernetes(command[0]);
        }

        ThrowIfTornDown();
        return await ContainerExec.RunAsync(Session.Docker, ContainerId, command, standardInput, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    internal void RecordImage(string hostImage, string clusterReference) => _images[hostImage] = clusterReference;

    internal void RequireKubernetes(string what)
    {
        if (!HasKubernetes)
        {
            throw new KubeDindException($"cluster {Name}: {what} needs Kubernetes but this cluster runs in compose mode; start it with Kubernetes = true and an image with k3s.");
        }
    }

    internal void ThrowIfTornDown()
    {
        if (IsTornDown)
        {
            throw new KubeDindException($"cluster {Name}: it has been torn down; start a new one.");
        }
    }

    internal bool MarkTornDown() => Interlocked.Exchange(ref _tornDown, 1) == 0;

    internal void DisposeClient()
    {
        (_client as IDisposable)?.Dispose();
        _client = null;
    }

    internal static IKubernetes CreateClient(string kubeconfigPath) =>
        new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfigPath));

    public override string ToString() => $"{Name} (registry {RegistryHostEndpoint}{(ApiEndpoint is null ? ", compose mode" : ", API " + ApiEndpoint)})";
}
