using System.Diagnostics;
using KubeDind.Logging;

namespace KubeDind.Waiting;

/// <summary>
/// Passes gates in order, each retried until it passes, all within one overall timeout. Logs each gate
/// with the time it took; on timeout, throws naming the gate that did not pass and what it last saw,
/// with whatever <c>diagnostics</c> returns (a container's last log lines, say) as details.
/// </summary>
public sealed class ReadinessWaiter
{
    private readonly IKubeDindLog _log;
    private readonly TimeSpan _pollInterval;
    private readonly TimeSpan _reportInterval;

    /// <param name="reportInterval">How often a gate that has not passed yet says what it sees; 10 s by default.</param>
    public ReadinessWaiter(IKubeDindLog log, TimeSpan? pollInterval = null, TimeSpan? reportInterval = null)
    {
        _log = log;
        _pollInterval = pollInterval ?? TimeSpan.FromMilliseconds(500);
        _reportInterval = reportInterval ?? TimeSpan.FromSeconds(10);
    }

    public async Task<IReadOnlyList<(string Gate, TimeSpan Elapsed)>> WaitAsync(
        string subject,
        IReadOnlyList<IReadinessGate> gates,
        TimeSpan timeout,
        Func<CancellationToken, Task<string?>>? diagnostics,
        CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var passed = new List<(string, TimeSpan)>();
        foreach (var gate in gates)
        {
            GateResult last = default;
            string? lastObservation = null;
            var lastSaid = watch.Elapsed;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var remaining = timeout - watch.Elapsed;
                if (remaining > TimeSpan.Zero)
                {
                    attempt.CancelAfter(remaining);
                    try
                    {
                        last = await gate.CheckAsync(attempt.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        last = GateResult.NotYet("the check itself did not finish in time");
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        last = GateResult.NotYet(ex.Message.Split('\n')[0]);
                    }
                }

                if (last.Observation != lastObservation)
                {
                    // Every change of what a gate sees, with its time: the start's timeline at Diagnostic verbosity.
                    lastObservation = last.Observation;
                    _log.Debug($"{subject}: {gate.Name} at {watch.Elapsed.TotalSeconds:0.0}s: {(last.Passed ? "passed" : last.Observation ?? "no answer yet")}");
                }

                if (last.Passed)
                {
                    passed.Add((gate.Name, watch.Elapsed));
                    _log.Info(last.Observation is { } note
                        ? $"{subject}: {note} (gate '{gate.Name}' passed at {watch.Elapsed.TotalSeconds:0.0}s)"
                        : $"{subject}: {gate.Name} after {watch.Elapsed.TotalSeconds:0.0}s");
                    break;
                }

                if (watch.Elapsed >= timeout)
                {
                    var details = diagnostics is null ? null : await SafeDiagnosticsAsync(diagnostics).ConfigureAwait(false);
                    throw new KubeDindException(
                        $"{subject}: not ready after {timeout.TotalSeconds:0}s: gate '{gate.Name}' did not pass ({last.Observation ?? "no answer"}); raise the readiness timeout or see the log lines below.",
                        details);
                }

                if (watch.Elapsed - lastSaid >= _reportInterval)
                {
                    // A long gate (k3s's node Ready, say) says what it sees, so a start is never silent for long.
                    lastSaid = watch.Elapsed;
                    _log.Info($"{subject}: waiting for {gate.Name} ({watch.Elapsed.TotalSeconds:0}s of {timeout.TotalSeconds:0}s; {passed.Count}/{gates.Count} gates passed; now: {last.Observation ?? "no answer yet"})");
                }

                await Task.Delay(_pollInterval, cancellationToken).ConfigureAwait(false);
            }
        }

        return passed;
    }

    private static async Task<string?> SafeDiagnosticsAsync(Func<CancellationToken, Task<string?>> diagnostics)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            return await diagnostics(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            return $"(could not collect diagnostics: {ex.Message})";
        }
    }
}
