using System.Runtime.ExceptionServices;
using KubeDind.Logging;
using KubeDind.Waiting;

namespace KubeDind.Cluster;

/// <summary>
/// The host images a start pushes into its cluster's registry (<see cref="ClusterSettings.ImagesToPush"/>), one after
/// another, from the moment the registry answers: a start then spends its longest wait, for k3s's API, pushing too,
/// instead of the build pushing after it. Each push is PushImage's own (layer store, fixed tags, progress lines); a
/// failed one ends the start's wait at once (<see cref="ClusterProbe.SetFatal"/>) and the start fails with its error.
/// </summary>
internal sealed class ClusterStartPushes : IAsyncDisposable
{
    private readonly KubeDindSession _session;
    private readonly ClusterProbe _probe;
    private readonly string _clusterName;
    private readonly IReadOnlyList<string> _images;
    private readonly RegistryTarget _registry;
    private readonly LayerStoreHost? _layerStore;
    private readonly CancellationTokenSource _stop;
    private readonly List<(string HostImage, PushedImage Pushed)> _pushed = [];
    private Task? _running;

    /// <param name="probe">The starting cluster's probe: a failed push ends its wait.</param>
    /// <param name="cancellationToken">The start's wait: cancelling it (a fatal failure too) stops the pushes.</param>
    public ClusterStartPushes(KubeDindSession session, ClusterProbe probe, string clusterName, ClusterSettings settings, string registryForEngine, CancellationToken cancellationToken)
    {
        _session = session;
        _probe = probe;
        _clusterName = clusterName;
        _images = settings.ImagesToPush;
        _registry = new RegistryTarget(registryForEngine, KubeDindCluster.RegistryPullName);
        _layerStore = settings.LayerStore.Enabled ? new LayerStoreHost(session, clusterName, probe.ContainerId, settings.LayerStore) : null;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>The push that failed, once one did: the start fails with it.</summary>
    public ExceptionDispatchInfo? Failure { get; private set; }

    /// <summary>
    /// Passes at once, having started the pushes in the background: checked beside the API gate, once the registry
    /// answers, so the pushes run while k3s boots and the gates after the API are not held up by them.
    /// </summary>
    public IReadinessGate Started => new StartedGate(this);

    /// <summary>Passes once every image is in the registry (starting the pushes first if <see cref="Started"/> did not).</summary>
    public IReadinessGate Finished => new FinishedGate(this);

    /// <summary>What was pushed, in order: the host image and its reference in the cluster.</summary>
    public IReadOnlyList<(string HostImage, PushedImage Pushed)> Pushed => _pushed;

    /// <summary>Stops pushes still running (a start that failed or was cancelled) and waits for them to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_running is { IsCompleted: false } running)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await running.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The start is failing already, with its own error: whatever the stopped pushes threw is not it.
            }
        }

        _stop.Dispose();
    }

    /// <summary>"1 image" or "N images", for log lines and the gate's name.</summary>
    private string Count => _images.Count == 1 ? "1 image" : $"{_images.Count} images";

    // On the pool: a gate's check must not wait for the first push's synchronous start.
    private Task Start() => _running ??= Task.Run(PushAllAsync, CancellationToken.None);

    private async Task PushAllAsync()
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        _session.Log.Info($"cluster {_clusterName}: pushing {Count} into its registry while it starts");
        try
        {
            foreach (var image in _images)
            {
                var pushed = await PushImage.PushToAsync(_session.Docker, _session.Log, $"cluster {_clusterName}", _registry, image, name: null, _stop.Token, _layerStore).ConfigureAwait(false);
                lock (_pushed)
                {
                    _pushed.Add((image, pushed));
                }
            }
        }
        catch (Exception ex) when (!_stop.IsCancellationRequested)
        {
            Failure = ExceptionDispatchInfo.Capture(ex);
            _probe.SetFatal($"pushing its images failed: {ex.Message.Split('\n')[0]}");
            throw;
        }

        _session.Log.Info($"cluster {_clusterName}: {Count} pushed after {watch.Elapsed.TotalSeconds:0.0}s, while it started");
    }

    private sealed class StartedGate(ClusterStartPushes pushes) : IReadinessGate
    {
        public string Name => "pushes of its images started";

        public Task<GateResult> CheckAsync(CancellationToken cancellationToken)
        {
            pushes.Start();
            return Task.FromResult(GateResult.Pass());
        }
    }

    private sealed class FinishedGate(ClusterStartPushes pushes) : IReadinessGate
    {
        public string Name => $"{pushes.Count} pushed into its registry";

        // Looks at a task, not at the cluster.
        public TimeSpan? PollInterval => ReadinessWaiter.RequestPollInterval;

        public Task<GateResult> CheckAsync(CancellationToken cancellationToken)
        {
            var running = pushes.Start();
            if (running.IsCompletedSuccessfully)
            {
                return Task.FromResult(GateResult.Pass());
            }

            int done;
            lock (pushes._pushed)
            {
                done = pushes._pushed.Count;
            }

            // A failed push has ended the wait already (SetFatal); until then, how far the pushes got.
            return Task.FromResult(GateResult.NotYet(running.IsCompleted ? "a push failed" : $"pushing: {done} of {pushes._images.Count} in the registry"));
        }
    }
}
