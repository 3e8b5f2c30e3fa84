namespace KubeDind.Waiting;

/// <summary>One condition a resource must meet before it is usable, checked again until it passes.</summary>
public interface IReadinessGate
{
    /// <summary>What this gate waits for, in words a build log can show ("registry answers /v2/").</summary>
    string Name { get; }

    /// <summary>
    /// The pause between two checks while this gate has not passed; null: the waiter's own. A gate whose check is one
    /// cheap request (an HTTP GET, an inspect) looks more often than one that execs into a container: on a warm start
    /// each of those stages is otherwise passed up to a whole poll interval late.
    /// </summary>
    TimeSpan? PollInterval => null;

    Task<GateResult> CheckAsync(CancellationToken cancellationToken);
}

/// <summary>Whether a gate passed, and if not, what it saw (shown when the wait gives up).</summary>
public readonly record struct GateResult(bool Passed, string? Observation = null)
{
    public static GateResult Pass() => new(true);

    /// <summary>Passed with nothing to wait for, and why (<paramref name="note"/>, logged in place of the gate's name).</summary>
    public static GateResult Pass(string note) => new(true, note);

    public static GateResult NotYet(string observation) => new(false, observation);
}
