using System.Collections.Concurrent;
using System.Diagnostics;
using Docker.DotNet;
using k8s;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Docker;
using KubeDind.Results;
using KubeDind.Run;

namespace KubeDind.Cluster;

/// <summary>
/// A running kube-dind cluster: one container with dockerd, a registry on :5000 and (unless in compose
/// mode) a k3s server, plus one container per agent node in a multi-node cluster. Disposing it tears it down.
/// </summary>
public sealed partial class KubeDindCluster : IClusterHandle
{
    /// <summary>The cluster's own process logs collected into diagnostics bundles (inside the container).</summary>
    private static readonly string[] ComponentLogs = ["k3s", "dockerd", "registry"];

    private readonly ConcurrentDictionary<string, string> _images = new(StringComparer.Ordinal);
    private IKubernetes? _client;
    private int _tornDown;
    private int _linksUnpackedLayers;

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

    /// <summary>
    /// The registry as this build reaches it over HTTP, e.g. 127.0.0.1:41234, or docker:41234 with a remote engine
    /// (DOCKER_HOST=tcp://docker:2375): for the registry API (tags, manifests) from the build's own process.
    /// </summary>
    public required string RegistryHostEndpoint { get; init; }

    /// <summary>
    /// The registry as the Docker engine reaches it, e.g. 127.0.0.1:41234 on the engine's own machine: images are pushed
    /// through the engine (<c>docker push</c>, PushImage), which pulls nothing from the build. Equal to
    /// <see cref="RegistryHostEndpoint"/> with a local engine.
    /// </summary>
    public required string RegistryEngineEndpoint { get; init; }

    /// <summary>The host name or IP this build reaches the cluster's published ports at (127.0.0.1, or the remote engine's host).</summary>
    public required string PublishedHost { get; init; }

    /// <summary>The registry as the cluster reaches it: pods name images <c>localhost:5000/name:tag</c>.</summary>
    public string RegistryClusterName => RegistryPullName;

    /// <summary>The registry's name in the cluster (<see cref="RegistryClusterName"/>).</summary>
    internal const string RegistryPullName = "localhost:5000";

    /// <summary>The Kubernetes API as this build reaches it, e.g. https://127.0.0.1:41235; null in compose mode.</summary>
    public string? ApiEndpoint { get; init; }

    /// <summary>The per-run kubeconfig (mode 0600); null in compose mode.</summary>
    public string? KubeconfigPath { get; init; }

    /// <summary>The Kubernetes version k3s reports, or null in compose mode.</summary>
    public string? KubernetesVersion { get; init; }

    /// <summary>The Docker network the container joined (shared with the mirror).</summary>
    public required string Network { get; init; }

    /// <summary>Extra published ports: container port → host port (on <see cref="PublishedHost"/>).</summary>
    public required IReadOnlyDictionary<int, int> PublishedPorts { get; init; }

    public required ClusterTimings Timings { get; init; }

    /// <summary>
    /// Which DNS, storage, metrics, ingress and load balancer run: k3s's packaged component, KubeDind's offline fallback
    /// (<see cref="ClusterComponent.IsFallback"/>) or none. Empty in compose mode.
    /// </summary>
    public IReadOnlyList<ClusterComponent> Components { get; init; } = [];

    /// <summary>
    /// The agent nodes (<see cref="ClusterSettings.Agents"/>), each its own container beside <see cref="ContainerId"/> (the
    /// server, node <c>kubedind</c>). Empty for a single-node cluster.
    /// </summary>
    public IReadOnlyList<ClusterAgent> Agents { get; init; } = [];

    /// <summary>Images pushed or loaded in this run: the host name → the reference the cluster uses.</summary>
    public IReadOnlyDictionary<string, string> Images => _images;

    internal KubeDindSession Session { get; }

    internal ClusterSettings Settings { get; }

    /// <summary>What LoadImage imported into each node in this process (see <see cref="KubeDind.Cluster.LoadedImages"/>).</summary>
    internal LoadedImages LoadedImages { get; } = new();

    /// <summary>Where the layer store's commands run for this cluster: its server container.</summary>
    internal LayerStoreHost LayerStoreHost => new(Session, Name, ContainerId, Settings.LayerStore);

    /// <summary>Whether this cluster started storing its unpacked layers in the layer store, which its teardown lets finish.</summary>
    internal bool KeepsUnpackedLayers { get; set; }

    /// <summary>
    /// Records that a push started linking stored unpacked layers into this cluster's containerd in the background, which
    /// the next Deploy or RunJob waits for (<see cref="LayerStore.FinishLinkingUnpackedAsync"/>) before its pods pull.
    /// </summary>
    private void MarkUnpackedLayerLinks() => Volatile.Write(ref _linksUnpackedLayers, 1);

    /// <summary>Whether links were started since the last call: one wait covers every push before it.</summary>
    internal bool TakeUnpackedLayerLinks() => Interlocked.Exchange(ref _linksUnpackedLayers, 0) != 0;

    internal bool IsTornDown => Volatile.Read(ref _tornDown) != 0;

    /// <summary>A client for the cluster's API (from the per-run kubeconfig); a one-line error in compose mode.</summary>
    public IKubernetes Kubernetes
    {
        get
        {
            RequireKubernetes("the Kubernetes client");
            ThrowIfTornDown();
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
        try
        {
            return await ContainerExec.RunAsync(Session.Docker, ContainerId, command, standardInput, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"cluster {Name}: cannot run '{command[0]}' in its container: {DockerEngine.FirstLine(ex)}; is the cluster still running (docker ps -a --filter name={Name})?", inner: ex);
        }
    }

    /// <summary>
    /// Pushes <paramref name="hostImage"/> into this cluster's registry and returns the reference pods use
    /// (<c>localhost:5000/name:tag</c>); <paramref name="name"/> ("repo" or "repo:tag") renames it there.
    /// </summary>
    public Task<string> PushImageAsync(string hostImage, string? name = null, CancellationToken cancellationToken = default) =>
        RecordAsync("PushImage", $"PushImage {hostImage}", () => new PushImage(Session).RunAsync(this, hostImage, name, cancellationToken));

    /// <summary>
    /// Loads <paramref name="hostImage"/> into the cluster (containerd's k8s.io namespace, where pods find it; the inner
    /// dockerd in compose mode) with no registry involved, and returns the reference to use in the cluster: the same name,
    /// or a fixed id-derived tag for a floating one. Pods must not pull it: <c>imagePullPolicy: Never</c> or <c>IfNotPresent</c>.
    /// </summary>
    public Task<string> LoadImageAsync(string hostImage, CancellationToken cancellationToken = default) =>
        RecordAsync("LoadImage", $"LoadImage {hostImage}", () => new LoadImage(Session).RunAsync(this, hostImage, cancellationToken));

    /// <summary>
    /// Applies <paramref name="settings"/>' manifests and waits for their rollout; images pushed or loaded in this run
    /// are rewritten automatically (on top of <see cref="DeploySettings.ImageRewrites"/>). A failed rollout writes a
    /// diagnostics bundle (with k3s and inner dockerd logs) under the artifacts directory and throws.
    /// </summary>
    public async Task<DeployResult> DeployAsync(DeploySettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        RequireKubernetes("Deploy");
        var started = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        try
        {
            await EnsureAliveAsync("deploy", cancellationToken).ConfigureAwait(false);
            var result = await BesideMirrorWarningsAsync(async () =>
            {
                await LayerStore.FinishLinkingUnpackedAsync(this, "deploy", cancellationToken).ConfigureAwait(false);
                return await DeployStep.RunAsync(Kubernetes, settings, CreateDeployContext(), cancellationToken).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
            Session.Timeline.Record(RunPhase.Deploy, started, watch.Elapsed);
            await LayerStore.KeepUnpackedInBackgroundAsync(this, cancellationToken).ConfigureAwait(false);
            await Session.Results.AddAsync(Name, ResultsPath, RunResults.FromDeploy(started, watch.Elapsed, result, null)).ConfigureAwait(false);
            return result;
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested)
        {
            Session.Timeline.Record(RunPhase.Deploy, started, watch.Elapsed, failed: true);
            var cancelled = new OperationCanceledException($"cluster {Name}: deploy cancelled; what was applied before stays (deploy again, or tear the cluster down).", ex, cancellationToken);
            await Session.Results.AddAsync(Name, ResultsPath, RunResults.FromDeploy(started, watch.Elapsed, null, cancelled)).ConfigureAwait(false);
            throw cancelled;
        }
        catch (Exception ex)
        {
            Session.Timeline.Record(RunPhase.Deploy, started, watch.Elapsed, failed: true);
            await Session.Results.AddAsync(Name, ResultsPath, RunResults.FromDeploy(started, watch.Elapsed, (ex as DeployFailedException)?.Result, ex)).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// This cluster's JUnit results (<see cref="JUnitResults"/>): a test suite with a test case per step run on it
    /// (and the session's StartMirror), rewritten after each step; beside the kubeconfig.
    /// </summary>
    public string ResultsPath => JUnitResults.PathFor(Name, Settings, KubeconfigPath);

    /// <summary>Runs one push or load on this cluster and records it (time, and the cause when it throws) in the results and the timeline's push phase.</summary>
    private async Task<T> RecordAsync<T>(string step, string name, Func<Task<T>> run)
    {
        var started = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        T value;
        try
        {
            value = await run().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Session.Timeline.Record(RunPhase.Push, started, watch.Elapsed, failed: true);
            await Session.Results.AddAsync(Name, ResultsPath, [RunResults.Failed(step, name, started, watch.Elapsed, ex)]).ConfigureAwait(false);
            throw;
        }

        Session.Timeline.Record(RunPhase.Push, started, watch.Elapsed);

        await Session.Results.AddAsync(Name, ResultsPath, [new StepResult(step, name, started, watch.Elapsed)]).ConfigureAwait(false);
        return value;
    }

    /// <summary>Writes a diagnostics bundle for the whole cluster now (for a test that failed for its own reasons).</summary>
    public Task<DiagnosticsBundle> CollectDiagnosticsAsync(CancellationToken cancellationToken = default)
    {
        RequireKubernetes("collecting Kubernetes diagnostics");
        ThrowIfTornDown();
        return DeployStep.CollectDiagnosticsAsync(Kubernetes, CreateDeployContext(), cancellationToken);
    }

    /// <summary>
    /// The logs of a Pod, or of every pod of a Job, Deployment, StatefulSet or DaemonSet (found through the live object's
    /// selector): every container, init containers and previous instances included.
    /// </summary>
    /// <param name="kind">Pod, Job, Deployment, StatefulSet or DaemonSet.</param>
    /// <param name="tailLines">Only the last lines of each log; all of it when null.</param>
    public Task<WorkloadLogs> ReadLogsAsync(string kind, string name, string @namespace = "default", int? tailLines = null, CancellationToken cancellationToken = default)
    {
        RequireKubernetes("reading logs");
        ThrowIfTornDown();
        return PodLogs.ReadAsync(Kubernetes, kind, name, @namespace, tailLines, cancellationToken);
    }

    /// <summary>
    /// Runs a Job to completion (from a manifest, or an image and command) and returns its exit code and logs; images
    /// pushed or loaded in this run are rewritten as in Deploy. A Job that cannot start throws naming the cause.
    /// </summary>
    public async Task<JobRunResult> RunJobAsync(JobRunSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        RequireKubernetes("RunJob");
        ThrowIfTornDown();
        var result = await BesideMirrorWarningsAsync(async () =>
        {
            await LayerStore.FinishLinkingUnpackedAsync(this, "job", cancellationToken).ConfigureAwait(false);
            return await JobRun.RunAsync(Kubernetes, settings, CreateDeployContext(), cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        await LayerStore.KeepUnpackedInBackgroundAsync(this, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// A host URL for a Service's port: through a port published at start (<see cref="ClusterSettings.Ports"/>, for a
    /// NodePort or externalIP service) when there is one, else through an API port-forward, once something answers
    /// behind it (within <paramref name="timeout"/>, default 60 s). Dispose it when done.
    /// </summary>
    public Task<ServiceEndpoint> OpenServiceAsync(string service, string port, string @namespace = "default", string scheme = "http", TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        RequireKubernetes("OpenServiceAsync");
        ThrowIfTornDown();
        return new ServiceAccess(Kubernetes, PublishedPorts, PublishedHost, Session.Log).OpenAsync(service, port, @namespace, scheme, timeout, cancellationToken);
    }

    internal DeployContext CreateDeployContext() => new()
    {
        ClusterName = Name,
        ArtifactsDirectory = Settings.ArtifactsDirectory,
        Log = Session.Log,
        PushedImages = new Dictionary<string, string>(_images),
        ExtraLogs = ReadComponentLogsAsync,
        Facts = ct => ClusterFacts.ReadAsync(this, Session.Mirrors, ct),
        Kustomize = new ContainerKustomize(Session.Docker, ContainerId),
        NodeRoutes = new ContainerNodeRoutes(Session.Docker, [(ClusterContainerSpec.ServerNodeName, ContainerId), .. Agents.Select(a => (a.NodeName, a.ContainerId))]),
        Components = Components,
    };

    /// <summary>The last lines of the cluster container's own log and of each component log inside it (and of each agent's).</summary>
    internal async Task<IReadOnlyDictionary<string, string>> ReadComponentLogsAsync(CancellationToken cancellationToken)
    {
        var logs = new Dictionary<string, string>
        {
            ["kubedind-container"] = await ContainerLogs.TailAsync(Session.Docker, ContainerId, 500, cancellationToken).ConfigureAwait(false),
        };
        foreach (var component in ComponentLogs)
        {
            logs[component] = await ReadLogFileAsync(ContainerId, component, cancellationToken).ConfigureAwait(false);
        }

        // Agents: each container's own log and its k3s agent's (kubelet, containerd), as agent-<n>-container and agent-<n>-k3s.
        foreach (var agent in Agents)
        {
            var prefix = agent.Name.StartsWith(Name + "-", StringComparison.Ordinal) ? agent.Name[(Name.Length + 1)..] : agent.NodeName;
            logs[$"{prefix}-container"] = await ContainerLogs.TailAsync(Session.Docker, agent.ContainerId, 500, cancellationToken).ConfigureAwait(false);
            logs[$"{prefix}-k3s"] = await ReadLogFileAsync(agent.ContainerId, "k3s", cancellationToken).ConfigureAwait(false);
        }

        return logs;
    }

    private async Task<string> ReadLogFileAsync(string containerId, string component, CancellationToken cancellationToken)
    {
        try
        {
            var result = await ContainerExec.RunAsync(Session.Docker, containerId, ["tail", "-n", "1000", $"/var/log/kubedind/{component}.log"], cancellationToken: cancellationToken).ConfigureAwait(false);
            return result.Succeeded ? result.StandardOutput : $"(not readable: {result.FirstErrorLine})";
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return $"(not readable: {ex.Message.Split('\n')[0]})";
        }
    }

    /// <summary>Stops and removes the cluster's container and volumes and deletes its kubeconfig; safe to call twice.</summary>
    public Task TeardownAsync(TeardownSettings? settings = null, CancellationToken cancellationToken = default) =>
        new Teardown(Session).RunAsync(this, settings ?? new TeardownSettings(), cancellationToken);

    public async ValueTask DisposeAsync() => await TeardownAsync().ConfigureAwait(false);

    string IClusterHandle.DefaultNamespace => "default";

    Task<ServiceEndpoint> IClusterHandle.OpenServiceAsync(string service, string port, string? @namespace, string scheme, CancellationToken cancellationToken) =>
        OpenServiceAsync(service, port, @namespace ?? "default", scheme, cancellationToken: cancellationToken);

    Task IClusterHandle.TeardownAsync(CancellationToken cancellationToken) => TeardownAsync(null, cancellationToken);

    internal void RecordImage(string hostImage, string clusterReference) => _images[hostImage] = clusterReference;

    /// <summary>Records a push into this cluster's registry, and that the next Deploy or RunJob waits for its links of unpacked layers.</summary>
    internal void RecordPush(string hostImage, PushedImage pushed)
    {
        RecordImage(hostImage, pushed.Reference);
        if (pushed.LinkingUnpacked)
        {
            MarkUnpackedLayerLinks();
        }
    }

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

    internal void UnmarkTornDown() => Volatile.Write(ref _tornDown, 0);

    internal void DisposeClient()
    {
        (_client as IDisposable)?.Dispose();
        _client = null;
    }

    internal static IKubernetes CreateClient(string kubeconfigPath) =>
        new k8s.Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfigPath), new ConnectRetryHandler());

    public override string ToString() => $"{Name} (registry {RegistryHostEndpoint}{(ApiEndpoint is null ? ", compose mode" : ", API " + ApiEndpoint)})";
}
