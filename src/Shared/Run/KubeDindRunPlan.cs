using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Logging;
using KubeDind.Mirror;

namespace KubeDind.Run;

/// <summary>
/// One run, in the order every front end runs it: mirror, build of the declared images, cluster (started, pushing the
/// images while it waits for Kubernetes; or an existing one connected to, the images pushed after), deployment; then the finish: diagnostics when the run failed, teardown or keep. It also
/// owns the run's cancellation: every step gets the plan's token, and <see cref="StopInFlightStepsAsync"/> cancels and
/// waits for the steps still running (a Ctrl+C landing while a step runs). Front ends call <see cref="RunAsync"/> and
/// <see cref="FinishAsync(bool)"/>, or (Nuke, one target per step) the step methods one by one.
/// </summary>
public sealed class KubeDindRunPlan : IAsyncDisposable
{
    private readonly Func<IKubeDindLog, CancellationToken, Task<IKubeDindRunSteps>> _connect;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private readonly HashSet<Task> _inFlight = [];
    private readonly CancellationTokenSource _cancellation = new();
    private readonly HashSet<string> _pushedByStart = new(StringComparer.Ordinal);
    private IKubeDindRunSteps? _steps;

    /// <param name="log">Where the plan and its steps write.</param>
    /// <param name="connect">Creates the steps at the first one (default: a <see cref="KubeDindSession"/> on the local engine or DOCKER_HOST).</param>
    public KubeDindRunPlan(IKubeDindLog log, Func<IKubeDindLog, CancellationToken, Task<IKubeDindRunSteps>>? connect = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        Log = log;
        _connect = connect ?? SessionRunSteps.ConnectAsync;
    }

    public IKubeDindLog Log { get; }

    /// <summary>True once a step connected (there may be something to finish).</summary>
    public bool HasStarted => _steps is not null;

    /// <summary>The mirror this run started or reused; null before, or without one.</summary>
    public KubeDindMirror? Mirror { get; private set; }

    /// <summary>The cluster this run started or connected to; null before, and after the teardown.</summary>
    public KubeDindEndpoints? Cluster { get; private set; }

    /// <summary>The core's cluster object while one runs (the Docker-backed steps only).</summary>
    public KubeDindCluster? CoreCluster => _steps?.Cluster;

    /// <summary>Local tag → reference pods use, for every image pushed into the running cluster.</summary>
    public IReadOnlyDictionary<string, string> PushedImages => _steps?.PushedImages ?? new Dictionary<string, string>();

    /// <summary>Where this run's time went so far (per phase: mirror, start, build, push, deploy, test, teardown); null before the first step.</summary>
    public RunTimeline? Timeline => _steps?.Timeline;

    /// <summary>The settings <see cref="RunAsync"/> ran with: <see cref="FinishAsync(bool)"/> keeps and diagnoses as they say.</summary>
    public KubeDindRunSettings Settings { get; private set; } = new();

    /// <summary>
    /// A plan that has run every step up to the deployment; when one fails, the run is finished at once (diagnostics,
    /// teardown or keep, as <paramref name="settings"/> say) before the error is rethrown, so a caller that never got
    /// the plan has nothing left behind. Finish the returned plan with <see cref="FinishAsync(bool)"/>, then dispose it.
    /// </summary>
    public static async Task<KubeDindRunPlan> StartAsync(KubeDindRunSettings settings, IKubeDindLog log, Func<IKubeDindLog, CancellationToken, Task<IKubeDindRunSteps>>? connect = null, CancellationToken cancellationToken = default)
    {
        var plan = new KubeDindRunPlan(log, connect);
        try
        {
            await plan.RunAsync(settings, cancellationToken).ConfigureAwait(false);
            return plan;
        }
        catch
        {
            await using (plan.ConfigureAwait(false))
            {
                await plan.FinishAsync(failed: true).ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Every step up to the deployment, as <paramref name="settings"/> says; call <see cref="FinishAsync(bool)"/> after, also when this throws.</summary>
    public async Task RunAsync(KubeDindRunSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        var images = KubeDindImage.ValidateAll(settings.Images, "the run's images");
        if (settings.Connect is { } existing)
        {
            await ConnectClusterAsync(existing, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            if (settings.UseMirror)
            {
                await StartMirrorAsync(settings.Mirror, cancellationToken).ConfigureAwait(false);
            }

            await StartClusterWithValidatedImagesAsync(settings.Cluster, images, cancellationToken).ConfigureAwait(false);
        }

        await PushValidatedImagesAsync(images, cancellationToken).ConfigureAwait(false);
        if (settings.Deploy is { } deploy)
        {
            await DeployAsync(deploy, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts (or reuses) the host's registry mirrors; the cluster started after this pulls through them.</summary>
    public Task<KubeDindMirror> StartMirrorAsync(MirrorSettings settings, CancellationToken cancellationToken = default) =>
        StepAsync(async (steps, token) => Mirror = await steps.StartMirrorAsync(settings, token).ConfigureAwait(false), cancellationToken);

    /// <summary>Starts the cluster, wired to the mirror this run started (when it did).</summary>
    public Task<KubeDindEndpoints> StartClusterAsync(ClusterSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var wired = Mirror is { } mirror ? settings.WithMirror(mirror) : settings;
        return StepAsync(async (steps, token) => Cluster = await steps.StartClusterAsync(wired, token).ConfigureAwait(false), cancellationToken);
    }

    /// <summary>
    /// Builds <paramref name="images"/> (those with a context), then starts the cluster, which pushes them into its
    /// registry while it waits for Kubernetes; <see cref="PushImagesAsync"/> after it does not push them again.
    /// </summary>
    public Task<KubeDindEndpoints> StartClusterAsync(ClusterSettings settings, IEnumerable<KubeDindImage> images, CancellationToken cancellationToken = default) =>
        StartClusterWithValidatedImagesAsync(settings, KubeDindImage.ValidateAll(images, "the run's images"), cancellationToken);

    private async Task<KubeDindEndpoints> StartClusterWithValidatedImagesAsync(ClusterSettings settings, IReadOnlyList<KubeDindImage> images, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var built = images.Where(i => i.IsBuilt).ToList();
        if (built.Count > 0)
        {
            await ForEachImageAsync(built, (steps, image, token) => steps.BuildImageAsync(image, token), cancellationToken).ConfigureAwait(false);
        }

        var tags = images.Select(i => i.Tag).ToList();
        var cluster = await StartClusterAsync(settings.WithImagesToPush([.. tags.Except(settings.ImagesToPush, StringComparer.Ordinal)]), cancellationToken).ConfigureAwait(false);
        // Every declared image, also one the settings named already: the start pushed each.
        _pushedByStart.UnionWith(tags);
        return cluster;
    }

    /// <summary>Connects to an existing cluster instead of starting one; the finish removes only what this run created there.</summary>
    public Task<KubeDindEndpoints> ConnectClusterAsync(ExistingClusterSettings settings, CancellationToken cancellationToken = default) =>
        StepAsync(async (steps, token) => Cluster = await steps.ConnectAsync(settings, token).ConfigureAwait(false), cancellationToken);

    /// <summary>Checks every image first, then builds (when it has a context) and pushes each, in order; none = nothing to do.</summary>
    public Task PushImagesAsync(IEnumerable<KubeDindImage> images, CancellationToken cancellationToken = default) =>
        PushValidatedImagesAsync(KubeDindImage.ValidateAll(images, "the run's images"), cancellationToken);

    private async Task PushValidatedImagesAsync(IReadOnlyList<KubeDindImage> list, CancellationToken cancellationToken)
    {
        if (list.Count == 0)
        {
            Log.Info("no images declared; nothing to push");
            return;
        }

        // Pushed while the cluster started: once; a later call pushes them again (rebuilt since, say).
        var pushedByStart = list.Where(i => _pushedByStart.Remove(i.Tag)).ToList();
        if (pushedByStart.Count > 0)
        {
            Log.Info($"{string.Join(", ", pushedByStart.Select(i => i.Tag))}: pushed while the cluster started");
            list = [.. list.Except(pushedByStart)];
            if (list.Count == 0)
            {
                return;
            }
        }

        await ForEachImageAsync(list, (steps, image, token) => steps.PushImageAsync(image, token), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="step"/> for each image in order, as one step of the plan.</summary>
    private Task ForEachImageAsync(IReadOnlyList<KubeDindImage> images, Func<IKubeDindRunSteps, KubeDindImage, CancellationToken, Task> step, CancellationToken cancellationToken) =>
        StepAsync(
            async (steps, token) =>
            {
                foreach (var image in images)
                {
                    await step(steps, image, token).ConfigureAwait(false);
                }

                return true;
            },
            cancellationToken);

    /// <summary>Applies the deployment and waits for its workloads; an empty one is refused before anything is sent.</summary>
    public Task DeployAsync(DeploySettings deployment, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(deployment);
        if (deployment.Manifests.Count == 0 && deployment.InlineManifests.Count == 0)
        {
            throw new KubeDindException("Deploy has no manifests: set DeploySettings.Manifests (in Nuke: override IKubeDind.Manifests) to the YAML files, directories or globs to apply.");
        }

        return StepAsync(
            async (steps, token) =>
            {
                await steps.DeployAsync(deployment, token).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <summary>Ends the run as <see cref="Settings"/> say (keep, diagnostics on failure); see <see cref="FinishAsync(bool, bool, bool, TimeSpan?)"/>.</summary>
    public Task<string?> FinishAsync(bool failed) => FinishAsync(failed, Settings.KeepCluster, Settings.DiagnosticsOnFailure);

    /// <summary>
    /// Ends the run: stops the steps still running (within <paramref name="stopGrace"/>), writes a diagnostics bundle
    /// when <paramref name="failed"/> (a courtesy: failing to collect never keeps the cluster), then removes the cluster,
    /// or with <paramref name="keep"/> says how to reach it, and logs the run's <see cref="Timeline"/>. Never cancelled: a teardown that stops halfway leaves
    /// containers behind. Returns the diagnostics directory, if one was written.
    /// </summary>
    public async Task<string?> FinishAsync(bool failed, bool keep, bool diagnosticsOnFailure = true, TimeSpan? stopGrace = null)
    {
        if (_steps is not { } steps)
        {
            return null;
        }

        await StopInFlightStepsAsync(stopGrace ?? TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        string? diagnostics = null;
        if (failed && diagnosticsOnFailure && Cluster is not null)
        {
            try
            {
                diagnostics = await steps.CollectDiagnosticsAsync(CancellationToken.None).ConfigureAwait(false);
                if (diagnostics is not null)
                {
                    Log.Warn($"KubeDind diagnostics written to {diagnostics}; report: {Path.Combine(diagnostics, Diagnostics.DiagnosticsReport.FileName)}");
                }
            }
            catch (Exception exception)
            {
                Log.Warn($"KubeDind could not collect diagnostics: {exception.Message.Split('\n')[0]}");
            }
        }

        try
        {
            await steps.TeardownAsync(keep, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            // The plan owns the end of a run, so it says where the run's minutes went, a failed teardown included.
            if (steps.Timeline is { IsEmpty: false } timeline)
            {
                timeline.WriteTo(Log);
            }
        }

        if (!keep)
        {
            Cluster = null;
        }

        return diagnostics;
    }

    /// <summary>
    /// Cancels the steps still running and waits for them, up to <paramref name="grace"/>: a host that runs its cleanup
    /// while an interrupted step is still going (Nuke's Ctrl+C) calls this first, so nothing is created behind the teardown's back.
    /// </summary>
    public async Task StopInFlightStepsAsync(TimeSpan grace)
    {
        Task[] running;
        lock (_inFlight)
        {
            running = [.. _inFlight];
        }

        if (running.Length == 0)
        {
            return;
        }

        Log.Warn($"Stopping {running.Length} KubeDind step(s) still running before teardown");
        await _cancellation.CancelAsync().ConfigureAwait(false);
        await Task.WhenAny(Task.WhenAll(running), Task.Delay(grace)).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_steps is not null)
        {
            await _steps.DisposeAsync().ConfigureAwait(false);
            _steps = null;
        }

        _cancellation.Dispose();
        _connectGate.Dispose();
    }

    /// <summary>Runs one step with the plan's token (linked with the caller's), registered as running while it runs.</summary>
    private Task<T> StepAsync<T>(Func<IKubeDindRunSteps, CancellationToken, Task<T>> step, CancellationToken cancellationToken)
    {
        // Registered before the step starts: a cancellation that lands while the step runs its first synchronous part
        // must still find it, or StopInFlightStepsAsync neither cancels nor waits for it and the step runs on unstopped.
        // What is registered is the caller's own task, so a stop that has waited for it hands back a step that has ended.
        var registered = new TaskCompletionSource();
        var running = RunStepAsync(registered.Task, step, cancellationToken);
        lock (_inFlight)
        {
            _inFlight.Add(running);
        }

        registered.SetResult();
        _ = running.ContinueWith(
            ended =>
            {
                lock (_inFlight)
                {
                    _inFlight.Remove(ended);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return running;
    }

    private async Task<T> RunStepAsync<T>(Task registered, Func<IKubeDindRunSteps, CancellationToken, Task<T>> step, CancellationToken cancellationToken)
    {
        await registered.ConfigureAwait(false);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(_cancellation.Token, cancellationToken);
        var steps = await StepsAsync(linked.Token).ConfigureAwait(false);
        return await step(steps, linked.Token).ConfigureAwait(false);
    }

    private async Task<IKubeDindRunSteps> StepsAsync(CancellationToken cancellationToken)
    {
        await _connectGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _steps ??= await _connect(Log, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _connectGate.Release();
        }
    }
}
