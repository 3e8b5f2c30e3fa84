using Docker.DotNet;
using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Logging;
using KubeDind.Run;

namespace KubeDind.Existing;

/// <summary>
/// A cluster KubeDind did not start (a staging or shared test cluster), reached through a kubeconfig context:
/// the same Deploy, rollout wait, diagnostics bundle and service access as a KubeDind cluster. Teardown never
/// touches the cluster itself: it deletes only the throwaway namespace this run created, if any.
/// </summary>
public sealed class ExistingCluster : IClusterHandle
{
    private readonly Dictionary<string, string> _images = new(StringComparer.Ordinal);
    private readonly k8s.Kubernetes _client;
    private readonly IKubeDindLog _log;
    private readonly Func<CancellationToken, Task<IDockerClient>> _dockerFactory;
    private readonly bool _ownsDocker;
    private readonly ThrowawayNamespaces _namespaces;
    private IDockerClient? _docker;
    private int _tornDown;

    internal ExistingCluster(k8s.Kubernetes client, IKubeDindLog log, Func<CancellationToken, Task<IDockerClient>> docker, bool ownsDocker, ThrowawayNamespaces namespaces)
    {
        _client = client;
        _log = log;
        _dockerFactory = docker;
        _ownsDocker = ownsDocker;
        _namespaces = namespaces;
    }

    /// <summary>Connects without a KubeDind session; the Docker engine is only contacted by <see cref="PushImageAsync"/>.</summary>
    public static Task<ExistingCluster> ConnectAsync(ExistingClusterSettings settings, IKubeDindLog? log = null, CancellationToken cancellationToken = default) =>
        new ConnectCluster(log).RunAsync(settings, cancellationToken);

    public required string Name { get; init; }

    /// <summary>The kubeconfig context in use.</summary>
    public required string Context { get; init; }

    /// <summary>The kubeconfig file it was opened from (the user's own file: use it with <see cref="Context"/>).</summary>
    public required string KubeconfigPath { get; init; }

    /// <summary>The API server, as the context names it.</summary>
    public required string ApiEndpoint { get; init; }

    public required string KubernetesVersion { get; init; }

    /// <summary>Where objects without a namespace go: the throwaway namespace, <see cref="ExistingClusterSettings.Namespace"/>, or "default".</summary>
    public required string DefaultNamespace { get; init; }

    /// <summary>True when <see cref="DefaultNamespace"/> was created for this run and is deleted at teardown.</summary>
    public required bool OwnsNamespace { get; init; }

    /// <summary>Labels the throwaway namespace.</summary>
    public required string RunId { get; init; }

    public IKubernetes Kubernetes
    {
        get
        {
            ThrowIfTornDown();
            return _client;
        }
    }

    public IReadOnlyDictionary<string, string> Images => _images;

    string? IClusterHandle.KubeconfigPath => KubeconfigPath;

    internal RegistryTarget? Registry { get; init; }

    internal ExistingClusterSettings Settings { get; init; } = new();

    /// <summary>Where the push, deploy and teardown record their time: the session's when a session connected, else one of its own.</summary>
    internal RunTimeline Timeline { get; init; } = new();

    /// <summary>
    /// Pushes a host image to <see cref="ExistingClusterSettings.Registry"/> and returns the reference pods pull
    /// (under <see cref="ExistingClusterSettings.RegistryPullName"/>); Deploy rewrites manifests naming the image to it.
    /// </summary>
    public async Task<string> PushImageAsync(string hostImage, string? name = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hostImage);
        ThrowIfTornDown();
        var registry = Registry ?? throw new KubeDindException($"push: {Name} is an existing cluster with no registry to push to; set ExistingClusterSettings.Registry to one its nodes pull from (e.g. registry.example.com/team).");
        var reference = await Timeline.TimeAsync(RunPhase.Push, async () =>
        {
            _docker ??= await _dockerFactory(cancellationToken).ConfigureAwait(false);
            return (await PushImage.PushToAsync(_docker, _log, $"registry {registry.PushName} (for {Name})", registry, hostImage, name, cancellationToken).ConfigureAwait(false)).Reference;
        }).ConfigureAwait(false);
        lock (_images)
        {
            _images[hostImage] = reference;
        }

        return reference;
    }

    /// <summary>Applies the manifests (namespace defaulting to <see cref="DefaultNamespace"/>) and waits for the rollout, like a KubeDind cluster.</summary>
    public async Task<DeployResult> DeployAsync(DeploySettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ThrowIfTornDown();
        return await Timeline.TimeAsync(
            RunPhase.Deploy,
            () => DeployStep.RunAsync(_client, settings with { Namespace = settings.Namespace ?? DefaultNamespace }, CreateDeployContext(), cancellationToken)).ConfigureAwait(false);
    }

    public Task<DiagnosticsBundle> CollectDiagnosticsAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfTornDown();
        return DeployStep.CollectDiagnosticsAsync(_client, CreateDeployContext(), cancellationToken);
    }

    /// <summary>A host URL for a Service's port, through a port-forward via the API (an existing cluster publishes no ports for KubeDind).</summary>
    public Task<ServiceEndpoint> OpenServiceAsync(string service, string port, string? @namespace = null, string scheme = "http", CancellationToken cancellationToken = default)
    {
        ThrowIfTornDown();
        return new ServiceAccess(_client, null, "127.0.0.1", _log).OpenAsync(service, port, @namespace ?? DefaultNamespace, scheme, cancellationToken: cancellationToken);
    }

    /// <summary>Deletes the throwaway namespaces of runs that died (never this run's, never one KubeDind did not label).</summary>
    public Task<IReadOnlyList<string>> SweepNamespacesAsync(SweepSettings? settings = null, CancellationToken cancellationToken = default)
    {
        ThrowIfTornDown();
        return _namespaces.SweepAsync(settings ?? Settings.Sweep, OwnsNamespace ? DefaultNamespace : null, cancellationToken);
    }

    /// <summary>Deletes this run's throwaway namespace (when it made one) and closes the connection; the cluster stays. Safe to call twice.</summary>
    public async Task TeardownAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _tornDown, 1) != 0)
        {
            return;
        }

        var started = DateTimeOffset.UtcNow;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            if (OwnsNamespace)
            {
                var deleted = await _namespaces.DeleteAsync(DefaultNamespace, cancellationToken).ConfigureAwait(false);
                _log.Info($"{Name}: namespace {DefaultNamespace} {(deleted ? "deleted" : "was already gone")}; the cluster itself stays");
            }
        }
        catch (Exception)
        {
            Volatile.Write(ref _tornDown, 0);
            Timeline.Record(RunPhase.Teardown, started, watch.Elapsed, failed: true);
            throw;
        }

        Timeline.Record(RunPhase.Teardown, started, watch.Elapsed);

        _client.Dispose();
        if (_ownsDocker && _docker is IDisposable docker)
        {
            docker.Dispose();
        }
    }

    public async ValueTask DisposeAsync() => await TeardownAsync().ConfigureAwait(false);

    private DeployContext CreateDeployContext()
    {
        lock (_images)
        {
            return new DeployContext
            {
                ClusterName = Name,
                ArtifactsDirectory = Settings.ArtifactsDirectory,
                Log = _log,
                PushedImages = new Dictionary<string, string>(_images),
            };
        }
    }

    private void ThrowIfTornDown()
    {
        if (Volatile.Read(ref _tornDown) != 0)
        {
            throw new KubeDindException($"cluster {Name}: this connection has been torn down; connect again.");
        }
    }

    public override string ToString() => $"{Name} (existing cluster, context {Context}, server {ApiEndpoint}, namespace {DefaultNamespace})";
}
