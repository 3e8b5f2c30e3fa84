using System.Diagnostics;

namespace KubeDind.Waiting;

/// <summary>What one look at a polled condition found: done (with its value) or not yet (with what it saw).</summary>
public readonly record struct PollStep<T>(bool Done, T? Value, string Observation)
{
    public static PollStep<T> Finished(T value, string observation = "done") => new(true, value, observation);

    public static PollStep<T> NotYet(string observation) => new(false, default, observation);
}

/// <summary>How a poll ended: its value when it finished, else what it last saw when the time ran out.</summary>
public readonly record struct PollOutcome<T>(bool Done, T? Value, string LastSeen, TimeSpan Elapsed)
{
    /// <summary>The value, or a one-line <see cref="KubeDindException"/> naming what was waited for and what was last seen.</summary>
    public T ValueOrThrow(string subject, string waitingFor, string hint) => Done
        ? Value!
        : throw new KubeDindException($"{subject}: gave up waiting for {waitingFor} after {Elapsed.TotalSeconds:0}s (last saw: {LastSeen}); {hint}");
}

/// <summary>A poll whose token was cancelled: names what it waited for and what it last saw (an inner poll's stays as it is).</summary>
public sealed class WaitCancelledException(string waitingFor, string lastSeen, Exception inner, CancellationToken token)
    : OperationCanceledException($"gave up waiting for {waitingFor} (last saw: {lastSeen})", inner, token)
{
    public string WaitingFor { get; } = waitingFor;

    public string LastSeen { get; } = lastSeen;
}

/// <summary>
/// The one polling primitive for waits that are not readiness gates (CRDs becoming Established, kinds
/// appearing in discovery, rollouts, a ready pod behind a Service, a Job finishing): look, wait the
/// interval (or less, when <c>pause</c> returns early because something changed), look again, until done or the
/// timeout; a cancelled token names what was being waited for.
/// </summary>
public static class Poll
{
    public static async Task<PollOutcome<T>> UntilAsync<T>(
        string waitingFor,
        Func<CancellationToken, Task<PollStep<T>>> look,
        TimeSpan interval,
        TimeSpan? timeout,
        CancellationToken cancellationToken,
        Func<TimeSpan, CancellationToken, Task>? pause = null)
    {
        ArgumentNullException.ThrowIfNull(look);
        var watch = Stopwatch.StartNew();
        var lastSeen = "nothing yet";
        try
        {
            while (true)
            {
                var step = await look(cancellationToken).ConfigureAwait(false);
                lastSeen = step.Observation;
                if (step.Done)
                {
                    return new PollOutcome<T>(true, step.Value, lastSeen, watch.Elapsed);
                }

                if (timeout is { } limit && watch.Elapsed + interval > limit)
                {
                    return new PollOutcome<T>(false, default, lastSeen, watch.Elapsed);
                }

                await (pause ?? Task.Delay)(interval, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested && ex is not WaitCancelledException)
        {
            throw new WaitCancelledException(waitingFor, lastSeen, ex, cancellationToken);
        }
    }
}
