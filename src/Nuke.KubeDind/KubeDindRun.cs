using KubeDind;
using KubeDind.Deploy;
using KubeDind.Logging;
using KubeDind.Run;

namespace Nuke.KubeDind;

/// <summary>
/// The core's <see cref="KubeDindRunPlan"/> of one build run, shared by the targets of <see cref="IKubeDind"/>: a Nuke
/// build is one process and its targets are separate delegates, and an interface has no fields, so the plan lives
/// here; builds see it only through <see cref="IKubeDind"/>'s members. Every decision is the plan's; this only hands
/// each target the plan and prints a failure's supporting lines the way Nuke shows errors.
/// </summary>
internal static class KubeDindRun
{
    private static readonly Lock Gate = new();
    private static KubeDindRunPlan? _plan;

    /// <summary>Creates the plan's steps; tests replace it to run the targets without Docker.</summary>
    internal static Func<IKubeDindLog, CancellationToken, Task<IKubeDindRunSteps>> StepsFactory { get; set; } = SessionRunSteps.ConnectAsync;

    /// <summary>This build's plan, created at first use (its steps connect at its first step).</summary>
    internal static KubeDindRunPlan Plan
    {
        get
        {
            lock (Gate)
            {
                return _plan ??= new KubeDindRunPlan(new NukeKubeDindLog(), StepsFactory);
            }
        }
    }

    /// <summary>Runs one target's part of the plan; a failure's log tails and report go to the build log before Nuke prints the error.</summary>
    internal static async Task StepAsync(Func<KubeDindRunPlan, Task> step)
    {
        try
        {
            await step(Plan).ConfigureAwait(false);
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

    internal static KubeDindEndpoints RequireCluster(string who) =>
        _plan?.Cluster ?? throw new KubeDindException($"{who} needs a running cluster, but StartCluster has not run in this build: make the target depend on IKubeDind.StartCluster.");

    /// <summary>Forgets the run (disposing its steps): after Teardown, and between tests.</summary>
    internal static async Task ResetAsync()
    {
        KubeDindRunPlan? plan;
        lock (Gate)
        {
            plan = _plan;
            _plan = null;
        }

        if (plan is not null)
        {
            await plan.DisposeAsync().ConfigureAwait(false);
        }
    }
}
