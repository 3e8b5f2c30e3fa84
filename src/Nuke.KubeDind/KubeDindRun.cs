using KubeDind;
using KubeDind.Deploy;
using KubeDind.Logging;
using KubeDind.Mirror;

namespace Nuke.KubeDind;

/// <summary>
/// What one build run has started, shared by the targets of <see cref="IKubeDind"/>: a Nuke build is one
/// process and its targets are separate delegates, and an interface has no fields, so the state lives here;
/// builds see it only through <see cref="IKubeDind"/>'s members.
/// </summary>
internal static class KubeDindRun
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static IKubeDindDriver? _driver;

    private static readonly HashSet<Task> InFlight = [];

    /// <summary>Every step gets its token; Teardown cancels it when it finds a step still running (Ctrl+C).</summary>
    internal static CancellationTokenSource Cancellation { get; private set; } = new();

    /// <summary>The mirror StartMirror started or reused; null before it ran.</summary>
    public static KubeDindMirror? Mirror { get; private set; }

    /// <summary>The cluster StartCluster started; null before it ran and after Teardown.</summary>
    public static KubeDindEndpoints? Cluster { get; private set; }

    /// <summary>Local tag → reference pods use, for every image pushed into the running cluster (the core's map).</summary>
    public static IReadOnlyDictionary<string, string> PushedImages => _driver?.PushedImages ?? new Dictionary<string, string>();

    /// <summary>Creates the driver; tests replace it to run the targets without Docker.</summary>
    internal static Func<IKubeDindLog, CancellationToken, Task<IKubeDindDriver>> DriverFactory { get; set; } = SessionDriver.ConnectAsync;

    internal static async Task<IKubeDindDriver> DriverAsync(CancellationToken cancellationToken)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _driver ??= await DriverFactory(new NukeKubeDindLog(), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Runs one step with the run's token, remembering it while it runs so Teardown can stop it.</summary>
    internal static async Task StepAsync(Func<IKubeDindDriver, CancellationToken, Task> step)
    {
        var token = Cancellation.Token;

        // Registered before the step starts: a Ctrl+C that lands while the step runs its first synchronous part
        // must still find it, or Teardown neither cancels nor waits for it and the step runs on unstopped.
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (InFlight)
        {
            InFlight.Add(finished.Task);
        }

        try
        {
            var driver = await DriverAsync(token).ConfigureAwait(false);
            await step(driver, token).ConfigureAwait(false);
        }
        catch (KubeDindException exception) when (exception.Details is { Length: > 0 } || exception is DeployFailedException { Diagnostics.ReportPath: not null })
        {
            // Nuke prints the one-line message and stack trace; the log tails behind it are in Details.
            if (exception.Details is { Length: > 0 } details)
            {
                Serilog.Log.Error("{Details}", details);
            }

            if ((exception as DeployFailedException)?.Diagnostics?.ReportPath is { } report)
            {
                Serilog.Log.Error("KubeDind report: {Report}", report);
            }

            throw;
        }
        finally
        {
            lock (InFlight)
            {
                InFlight.Remove(finished.Task);
            }

            finished.SetResult();
        }
    }

    /// <summary>
    /// Nuke runs assured targets straight from its Ctrl+C handler while the interrupted target's task is
    /// still going; Teardown calls this first so a half-started cluster is not created behind its back.
    /// </summary>
    internal static async Task StopInFlightStepsAsync(TimeSpan grace)
    {
        Task[] running;
        lock (InFlight)
        {
            running = [.. InFlight];
        }

        if (running.Length == 0)
        {
            return;
        }

        Serilog.Log.Warning("Stopping {Count} KubeDind step(s) still running before teardown", running.Length);
        await Cancellation.CancelAsync().ConfigureAwait(false);
        var all = Task.WhenAll(running);
        await Task.WhenAny(all, Task.Delay(grace)).ConfigureAwait(false);
    }

    private static TaskCompletionSource? _teardown;
    private static int _exitWaitInstalled;

    /// <summary>How long the process's exit waits for a Teardown still running (diagnostics, then removal).</summary>
    internal static TimeSpan TeardownAtExitTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Marks a Teardown as running until <see cref="TeardownFinished"/>. On Ctrl+C Nuke runs Teardown from its
    /// interrupt handler while the build's own thread goes on: the cancelled step fails, the build ends and returns
    /// from Main, and the process would exit in the middle of Teardown, leaving the cluster behind. So the process's
    /// exit waits for it.
    /// </summary>
    internal static void TeardownStarted()
    {
        _teardown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.Exchange(ref _exitWaitInstalled, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => WaitForTeardownAtExit();
        }
    }

    internal static void TeardownFinished() => Interlocked.Exchange(ref _teardown, null)?.TrySetResult();

    private static void WaitForTeardownAtExit()
    {
        // ProcessExit handlers are synchronous: blocking here is the only way to hold the exit back.
        if (_teardown is { } teardown && !teardown.Task.Wait(TeardownAtExitTimeout))
        {
            Console.Error.WriteLine($"KubeDind: the build exited while Teardown still ran after {TeardownAtExitTimeout.TotalMinutes:0} min; the cluster may be left: remove it with `docker rm -fv <cluster>` or KubeDind's Sweep.");
        }
    }

    internal static bool HasDriver => _driver is not null;

    /// <summary>The core's cluster object while one runs (only the Docker-backed driver has one).</summary>
    public static global::KubeDind.Cluster.KubeDindCluster? CoreCluster => _driver?.Cluster;

    internal static void SetMirror(KubeDindMirror mirror) => Mirror = mirror;

    internal static void SetCluster(KubeDindEndpoints? cluster) => Cluster = cluster;

    internal static KubeDindEndpoints RequireCluster(string who) =>
        Cluster ?? throw new KubeDindException($"{who} needs a running cluster, but StartCluster has not run in this build: make the target depend on IKubeDind.StartCluster.");

    /// <summary>Forgets everything (disposing the driver): after Teardown, and between tests.</summary>
    internal static async Task ResetAsync()
    {
        if (_driver is not null)
        {
            await _driver.DisposeAsync().ConfigureAwait(false);
        }

        _driver = null;
        Mirror = null;
        Cluster = null;
        if (Cancellation.IsCancellationRequested)
        {
            Cancellation = new CancellationTokenSource();
        }
    }
}
