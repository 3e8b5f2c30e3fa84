using System.Diagnostics;
using Docker.DotNet;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Images;
using KubeDind.Logging;
using KubeDind.Mirror;
using KubeDind.Results;
using KubeDind.Run;

namespace KubeDind;

/// <summary>
/// The entry point: one connection to the Docker engine, one log and one run id, shared by the five
/// steps (StartMirror, StartCluster, PushImage, Deploy, Teardown) and by the sweep.
/// Each step lives in its own class; these methods only hand them the session.
/// </summary>
public sealed class KubeDindSession : IAsyncDisposable, IDisposable
{
    private readonly List<KubeDindMirror> _mirrors = [];

    private KubeDindSession(DockerClient docker, DockerEndpoint engine, IKubeDindLog log, string runId)
    {
        Docker = docker;
        Engine = engine;
        Log = log;
        RunId = runId;
        Results = new RunResults(log);
    }

    public IDockerClient Docker { get; }

    /// <summary>Where the engine is: decides where ports are published and the host every URL uses.</summary>
    public DockerEndpoint Engine { get; }

    public IKubeDindLog Log { get; }

    /// <summary>Identifies this run on every resource it creates (label <see cref="KubeDindLabels.RunId"/>).</summary>
    public string RunId { get; }

    /// <summary>Connects to the engine (DOCKER_HOST or the local socket); a one-line error when it does not answer.</summary>
    public static Task<KubeDindSession> ConnectAsync(IKubeDindLog? log = null, Uri? dockerEndpoint = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(DockerEndpoint.Resolve(dockerEndpoint), log, cancellationToken);

    /// <summary>Connects to <paramref name="engine"/> (see <see cref="DockerEndpoint.Resolve"/>); a one-line error when it does not answer.</summary>
    public static async Task<KubeDindSession> ConnectAsync(DockerEndpoint engine, IKubeDindLog? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        log ??= new ConsoleKubeDindLog();
        var docker = await DockerEngine.ConnectAsync(engine, cancellationToken).ConfigureAwait(false);
        var runId = Environment.GetEnvironmentVariable("KUBEDIND_RUN_ID") is { Length: > 0 } id ? id : Guid.NewGuid().ToString("N")[..12];
        if (!engine.IsLocal || engine.HostOverride is not null)
        {
            log.Info($"docker: {engine}");
        }

        return new KubeDindSession(docker, engine, log, runId);
    }

    /// <summary>Set once the engine has refused a privileged container, so later clusters go straight to the fallback.</summary>
    internal bool PrivilegedRefused { get; set; }

    /// <summary>The capabilities the engine grants, once learned (locally from /proc, remotely through <see cref="EngineProbe"/>).</summary>
    internal IReadOnlyList<string>? EngineCapabilities { get; set; }

    /// <summary>The mirrors this session started, whose usage a cluster's diagnostics report shows.</summary>
    internal IReadOnlyList<KubeDindMirror> Mirrors
    {
        get
        {
            lock (_mirrors)
            {
                return [.. _mirrors];
            }
        }
    }

    /// <summary>The steps this session ran, with their times and outcomes, for each cluster's JUnit results.</summary>
    internal RunResults Results { get; }

    /// <summary>Where this session's time went: each step records its phase here as it runs (<see cref="RunTimeline.Render()"/> prints it).</summary>
    public RunTimeline Timeline { get; } = new();

    /// <summary>Starts or reuses the host-side mirrors, one per upstream registry in <paramref name="settings"/>.</summary>
    public async Task<KubeDindMirror> StartMirrorAsync(MirrorSettings settings, CancellationToken cancellationToken = default)
    {
        var started = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        KubeDindMirror mirror;
        try
        {
            mirror = await new StartMirror(this).RunAsync(settings, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Timeline.Record(RunPhase.Mirror, started, watch.Elapsed, failed: true);
            Results.AddSessionStep(RunResults.Failed("StartMirror", "StartMirror", started, watch.Elapsed, ex));
            throw;
        }

        Timeline.Record(RunPhase.Mirror, started, watch.Elapsed);
        Results.AddSessionStep(new StepResult("StartMirror", "StartMirror", started, watch.Elapsed));
        lock (_mirrors)
        {
            _mirrors.Add(mirror);
        }

        return mirror;
    }

    /// <summary>Builds an application image on the host's engine (the base image filled in); returns its tag.</summary>
    public Task<string> BuildImageAsync(KubeDindImage settings, CancellationToken cancellationToken = default) =>
        Timeline.TimeAsync(RunPhase.Build, () => new BuildImage(this).RunAsync(settings, cancellationToken));

    /// <summary>Stops and removes the mirror called <paramref name="name"/> (every registry's container); the cache volumes stay unless <paramref name="removeCache"/>.</summary>
    public Task<MirrorStopResult> StopMirrorAsync(string name, bool removeCache = false, CancellationToken cancellationToken = default) =>
        new StopMirror(this).RunAsync(name, removeCache, cancellationToken);

    /// <summary>
    /// One line saying what is wrong with the registry mirror container <paramref name="name"/> (<see cref="MirrorEndpoints.Name"/>:
    /// gone, stopped, cache volume full), or null.
    /// </summary>
    public Task<string?> CheckMirrorAsync(string name, CancellationToken cancellationToken = default) =>
        new MirrorCheck(this).RunAsync(name, cancellationToken);

    /// <summary>Starts a cluster and waits until it is ready; its JUnit results (<see cref="KubeDindCluster.ResultsPath"/>) start with this step.</summary>
    public async Task<KubeDindCluster> StartClusterAsync(ClusterSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var started = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        KubeDindCluster cluster;
        try
        {
            cluster = await new StartCluster(this).RunAsync(settings, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Timeline.Record(RunPhase.Start, started, watch.Elapsed, failed: true);
            await RecordFailedStartAsync(settings, RunResults.Failed("StartCluster", "StartCluster", started, watch.Elapsed, ex)).ConfigureAwait(false);
            throw;
        }

        Timeline.Record(RunPhase.Start, started, watch.Elapsed, note: cluster.Timings.Brief());
        await Results.AddAsync(cluster.Name, cluster.ResultsPath, [new StepResult("StartCluster", "StartCluster", started, watch.Elapsed)]).ConfigureAwait(false);
        return cluster;
    }

    /// <summary>A start that failed still leaves its results where the cluster's would be, so CI shows the failure; never throws.</summary>
    private async Task RecordFailedStartAsync(ClusterSettings settings, StepResult step)
    {
        var name = settings.Name ?? ClusterSettings.DefaultName(RunId);
        if (!DockerContainers.IsValidName(name))
        {
            return; // the error says the name is wrong; there is no cluster to write results for
        }

        await Results.AddAsync(name, JUnitResults.PathFor(name, settings, null), [step]).ConfigureAwait(false);
    }

    /// <summary>Opens a cluster that already exists (kubeconfig + context); pushes go through this session's engine.</summary>
    public Task<Existing.ExistingCluster> ConnectClusterAsync(Existing.ExistingClusterSettings settings, CancellationToken cancellationToken = default) =>
        Timeline.TimeAsync(
            RunPhase.Start,
            "connected to an existing cluster",
            "connecting to an existing cluster",
            () => new Existing.ConnectCluster(Log, RunId, Docker) { Timeline = Timeline }.RunAsync(settings, cancellationToken));

    public Task<SweepResult> SweepAsync(SweepSettings? settings = null, CancellationToken cancellationToken = default) =>
        new Sweep(this).RunAsync(settings ?? new SweepSettings(), cancellationToken);

    public void Dispose() => ((DockerClient)Docker).Dispose();

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
