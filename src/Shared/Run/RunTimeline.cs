using System.Diagnostics;
using System.Globalization;
using System.Text;
using KubeDind.Logging;

namespace KubeDind.Run;

/// <summary>The parts of a run the timeline tells apart, in the order a run goes through them.</summary>
public enum RunPhase
{
    /// <summary>StartMirror: the host's pull-through caches started or reused.</summary>
    Mirror,

    /// <summary>StartCluster: until the cluster is ready, with the images it pushes while it boots (its own parts: <see cref="Cluster.ClusterTimings"/>).</summary>
    Start,

    /// <summary>BuildImage: application images built on the host's engine.</summary>
    Build,

    /// <summary>PushImage and LoadImage: images sent into the cluster.</summary>
    Push,

    /// <summary>Deploy: manifests applied and their rollout waited for.</summary>
    Deploy,

    /// <summary>The user's own tests: from the end of a successful deploy to the teardown after it (computed, never recorded).</summary>
    Test,

    /// <summary>Teardown: the cluster removed.</summary>
    Teardown,
}

/// <summary>One line of a <see cref="RunTimeline"/>: every step of one phase added up.</summary>
/// <param name="Phase">Which part of the run.</param>
/// <param name="Start">When the phase first began, from the run's first step.</param>
/// <param name="Duration">The time of all its steps together.</param>
/// <param name="Count">How many steps (pushes, clusters...) it adds up.</param>
/// <param name="Failed">How many of them failed.</param>
/// <param name="Note">What the longest of its steps says about itself (a start: warm or cold, and its slowest part); may be null.</param>
public sealed record TimelinePhase(RunPhase Phase, TimeSpan Start, TimeSpan Duration, int Count, int Failed, string? Note)
{
    /// <summary>The phase's name as the timeline prints it: mirror, start, build, push, deploy, test, teardown.</summary>
    public string Name => Phase.ToString().ToLowerInvariant();
}

/// <summary>
/// Where a run's minutes went: each step of a <see cref="KubeDindSession"/> records its phase, start and duration here
/// as it runs, and the timeline adds them up per phase (several pushes make one push line) and works out the time the
/// user's own tests took (after the last deploy, before the teardown), so no one has to wrap their code in a stopwatch.
/// </summary>
public sealed class RunTimeline
{
    private readonly List<Entry> _entries = [];

    /// <summary>Records one step that ran from <paramref name="started"/> for <paramref name="duration"/>; <see cref="RunPhase.Test"/> is computed and refused here.</summary>
    public void Record(RunPhase phase, DateTimeOffset started, TimeSpan duration, bool failed = false, string? note = null)
    {
        if (phase == RunPhase.Test)
        {
            throw new ArgumentException("RunTimeline: the test phase is the time between a deploy and the teardown after it, worked out from those two; record the steps around it instead.", nameof(phase));
        }

        if (!Enum.IsDefined(phase))
        {
            throw new ArgumentOutOfRangeException(nameof(phase), phase, "RunTimeline: unknown phase; use one of mirror, start, build, push, deploy, teardown.");
        }

        if (duration < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "RunTimeline: a step's duration cannot be negative; pass the time its stopwatch measured.");
        }

        lock (_entries)
        {
            _entries.Add(new Entry(phase, started, duration, failed, note));
        }
    }

    /// <summary>Runs <paramref name="step"/> and records it in <paramref name="phase"/>, failed when it throws (then rethrown); no note either way.</summary>
    internal Task<T> TimeAsync<T>(RunPhase phase, Func<Task<T>> step) => TimeAsync(phase, null, null, step);

    /// <summary>
    /// Runs <paramref name="step"/> and records it in <paramref name="phase"/> with its start and time: with
    /// <paramref name="note"/> when it returns, failed with <paramref name="failedNote"/> when it throws (then rethrown).
    /// </summary>
    internal async Task<T> TimeAsync<T>(RunPhase phase, string? note, string? failedNote, Func<Task<T>> step)
    {
        var started = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        T value;
        try
        {
            value = await step().ConfigureAwait(false);
        }
        catch (Exception)
        {
            Record(phase, started, watch.Elapsed, failed: true, note: failedNote);
            throw;
        }

        Record(phase, started, watch.Elapsed, note: note);
        return value;
    }

    /// <summary>True when no step was recorded (nothing ran, or only steps outside the phases).</summary>
    public bool IsEmpty
    {
        get
        {
            lock (_entries)
            {
                return _entries.Count == 0;
            }
        }
    }

    /// <summary>
    /// The phases that ran, in <see cref="RunPhase"/> order, with the test phase worked out; a deploy not yet followed by a
    /// teardown (a kept cluster, or a timeline read while tests run) counts its test time up to <paramref name="asOf"/>.
    /// </summary>
    public IReadOnlyList<TimelinePhase> Phases(DateTimeOffset asOf)
    {
        var entries = Snapshot();
        if (entries.Count == 0)
        {
            return [];
        }

        var origin = entries[0].Started;
        var all = entries.Concat(TestGaps(entries, asOf)).ToList();
        return all.GroupBy(e => e.Phase)
            .OrderBy(g => g.Key)
            .Select(g => new TimelinePhase(
                g.Key,
                g.Min(e => e.Started) - origin,
                TimeSpan.FromTicks(g.Sum(e => e.Duration.Ticks)),
                g.Count(),
                g.Count(e => e.Failed),
                g.MaxBy(e => e.Duration)!.Note))
            .ToList();
    }

    /// <summary>From the first step's start to the last step's end (or the end of a test phase still running at <paramref name="asOf"/>).</summary>
    public TimeSpan Total(DateTimeOffset asOf)
    {
        var entries = Snapshot();
        if (entries.Count == 0)
        {
            return TimeSpan.Zero;
        }

        return entries.Concat(TestGaps(entries, asOf)).Max(e => e.Started + e.Duration) - entries[0].Started;
    }

    /// <summary>
    /// A small aligned table: one line per phase (its start from the run's first step, its seconds, its share of the total,
    /// and how many steps it adds up), a line for the time between the steps when there is some, then the total.
    /// </summary>
    public string Render(DateTimeOffset asOf)
    {
        var phases = Phases(asOf);
        if (phases.Count == 0)
        {
            return "KubeDind timeline: no KubeDind step ran.";
        }

        var total = Total(asOf);
        var rows = phases.Select(p => (p.Name, (TimeSpan?)p.Start, p.Duration, Notes(p))).ToList();
        var between = total - TimeSpan.FromTicks(phases.Sum(p => p.Duration.Ticks));
        if (between >= TimeSpan.FromSeconds(0.1))
        {
            rows.Add(("other", null, between, "between the steps"));
        }

        rows.Add(("total", null, total, string.Empty));
        var nameWidth = rows.Max(r => r.Item1.Length);
        var secondsWidth = rows.Max(r => Seconds(r.Item3).Length);
        var atWidth = rows.Max(r => r.Item2 is { } start ? Seconds(start).Length + 4 : 0);
        var text = new StringBuilder("KubeDind timeline (where this run's time went):");
        foreach (var (name, start, duration, notes) in rows)
        {
            var share = total > TimeSpan.Zero ? duration.Ticks * 100.0 / total.Ticks : 100;
            var at = start is { } s ? "at +" + Seconds(s) : string.Empty;
            var line = FormattableString.Invariant($"  {name.PadRight(nameWidth)}  {Seconds(duration).PadLeft(secondsWidth)}  {share,4:0}%  {at.PadRight(atWidth)}  {notes}");
            text.Append('\n').Append(line.TrimEnd());
        }

        return text.ToString();
    }

    /// <summary><see cref="Render(DateTimeOffset)"/> as of now.</summary>
    public string Render() => Render(DateTimeOffset.UtcNow);

    /// <summary>Writes the rendered table to <paramref name="log"/>, a line at a time (logs that prefix each message stay aligned).</summary>
    public void WriteTo(IKubeDindLog log, DateTimeOffset? asOf = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        foreach (var line in Render(asOf ?? DateTimeOffset.UtcNow).Split('\n'))
        {
            log.Info(line);
        }
    }

    public override string ToString() => Render();

    private List<Entry> Snapshot()
    {
        lock (_entries)
        {
            return [.. _entries.OrderBy(e => e.Started)];
        }
    }

    /// <summary>The user's tests: each successful deploy's end to the next teardown's start (or to <paramref name="asOf"/>, when none came yet).</summary>
    private static IEnumerable<Entry> TestGaps(IReadOnlyList<Entry> entries, DateTimeOffset asOf)
    {
        DateTimeOffset? deployed = null;
        foreach (var entry in entries)
        {
            if (entry.Phase == RunPhase.Deploy)
            {
                deployed = entry.Failed ? null : entry.Started + entry.Duration;
            }
            else if (entry.Phase == RunPhase.Teardown && deployed is { } end)
            {
                if (entry.Started >= end)
                {
                    yield return new Entry(RunPhase.Test, end, entry.Started - end, false, null);
                }

                deployed = null;
            }
        }

        if (deployed is { } open && asOf > open)
        {
            yield return new Entry(RunPhase.Test, open, asOf - open, false, "no teardown yet: up to now");
        }
    }

    private static string Notes(TimelinePhase phase)
    {
        var parts = new List<string>();
        if (phase.Count > 1)
        {
            parts.Add($"{phase.Count} {Unit(phase.Phase)}");
        }

        if (phase.Failed > 0)
        {
            parts.Add($"{phase.Failed} failed");
        }

        if (phase.Note is { Length: > 0 } note)
        {
            parts.Add(note);
        }

        return string.Join("; ", parts);
    }

    private static string Unit(RunPhase phase) => phase switch
    {
        RunPhase.Mirror => "mirror starts",
        RunPhase.Start or RunPhase.Teardown => "clusters",
        RunPhase.Build or RunPhase.Push => "images",
        RunPhase.Deploy => "deploys",
        _ => "runs",
    };

    private static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    private sealed record Entry(RunPhase Phase, DateTimeOffset Started, TimeSpan Duration, bool Failed, string? Note);
}
