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
    /// <summary>The poll interval of a gate whose check is one cheap request (<see cref="IReadinessGate.PollInterval"/>).</summary>
    public static readonly TimeSpan RequestPollInterval = TimeSpan.FromMilliseconds(200);

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

    public Task<IReadOnlyList<(string Gate, TimeSpan Elapsed)>> WaitAsync(
        string subject,
        IReadOnlyList<IReadinessGate> gates,
        TimeSpan timeout,
        Func<CancellationToken, Task<string?>>? diagnostics,
        CancellationToken cancellationToken) =>
        WaitInStagesAsync(subject, [.. gates.Select(g => (IReadOnlyList<IReadinessGate>)[g])], timeout, diagnostics, cancellationToken);

    /// <summary>
    /// Passes <paramref name="stages"/> in order; the gates of one stage are checked side by side (each at its own
    /// pace), so independent checks cost the slowest of them rather than their sum. Returns every gate with the time
    /// it passed, in the order they passed.
    /// </summary>
    public async Task<IReadOnlyList<(string Gate, TimeSpan Elapsed)>> WaitInStagesAsync(
        string subject,
        IReadOnlyList<IReadOnlyList<IReadinessGate>> stages,
        TimeSpan timeout,
        Func<CancellationToken, Task<string?>>? diagnostics,
        CancellationToken cancellationToken)
    {
        var wait = new Wait(subject, Stopwatch.StartNew(), timeout, stages.Sum(s => s.Count), diagnostics);
        foreach (var stage in stages)
        {
            if (stage.Count == 1)
            {
                await WaitForGateAsync(wait, stage[0], cancellationToken).ConfigureAwait(false);
                continue;
            }

            // One gate giving up ends the others' waits.
            using var stageEnded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var waits = stage.Select(async gate =>
            {
                try
                {
                    await WaitForGateAsync(wait, gate, stageEnded.Token).ConfigureAwait(false);
                }
                catch
                {
                    await stageEnded.CancelAsync().ConfigureAwait(false);
                    throw;
                }
            }).ToList();
            // A gate's error faults its task and the others end canceled: WhenAll throws the error.
            await Task.WhenAll(waits).ConfigureAwait(false);
        }

        return wait.Passed;
    }

    private async Task WaitForGateAsync(Wait wait, IReadinessGate gate, CancellationToken cancellationToken)
    {
        var (subject, watch, timeout) = (wait.Subject, wait.Watch, wait.Timeout);
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
                var elapsed = watch.Elapsed;
                wait.Pass(gate.Name, elapsed);
                _log.Info(last.Observation is { } note
                    ? $"{subject}: {note} (gate '{gate.Name}' passed at {elapsed.TotalSeconds:0.0}s)"
                    : $"{subject}: {gate.Name} after {elapsed.TotalSeconds:0.0}s");
                return;
            }

            if (watch.Elapsed >= timeout)
            {
                var details = wait.Diagnostics is null ? null : await SafeDiagnosticsAsync(wait.Diagnostics).ConfigureAwait(false);
                throw new KubeDindException(
                    $"{subject}: not ready after {timeout.TotalSeconds:0}s: gate '{gate.Name}' did not pass ({last.Observation ?? "no answer"}); raise the readiness timeout or see the log lines below.",
                    details);
            }

            if (watch.Elapsed - lastSaid >= _reportInterval)
            {
                // A long gate (k3s's node Ready, say) says what it sees, so a start is never silent for long.
                lastSaid = watch.Elapsed;
                _log.Info($"{subject}: waiting for {gate.Name} ({watch.Elapsed.TotalSeconds:0}s of {timeout.TotalSeconds:0}s; {wait.PassedCount}/{wait.GateCount} gates passed; now: {last.Observation ?? "no answer yet"})");
            }

            await Task.Delay(gate.PollInterval ?? _pollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One wait's shared facts; gates of a stage pass from several tasks at once.</summary>
    private sealed class Wait(string subject, Stopwatch watch, TimeSpan timeout, int gateCount, Func<CancellationToken, Task<string?>>? diagnostics)
    {
        private readonly List<(string Gate, TimeSpan Elapsed)> _passed = [];

        public string Subject => subject;

        public Stopwatch Watch => watch;

        public TimeSpan Timeout => timeout;

        public int GateCount => gateCount;

        public Func<CancellationToken, Task<string?>>? Diagnostics => diagnostics;

        public int PassedCount
        {
            get
            {
                lock (_passed)
                {
                    return _passed.Count;
                }
            }
        }

        public IReadOnlyList<(string Gate, TimeSpan Elapsed)> Passed
        {
            get
            {
                lock (_passed)
                {
                    return [.. _passed.OrderBy(p => p.Elapsed)];
                }
            }
        }

        public void Pass(string gate, TimeSpan elapsed)
        {
            lock (_passed)
            {
                _passed.Add((gate, elapsed));
            }
        }
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
