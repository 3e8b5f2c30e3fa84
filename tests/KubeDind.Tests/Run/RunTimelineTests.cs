using KubeDind.Cluster;
using KubeDind.Run;

namespace KubeDind.Tests.Run;

/// <summary>The run's timeline: what the steps record, how it adds up and how it prints (pure, no Docker).</summary>
public sealed class RunTimelineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static DateTimeOffset At(double seconds) => T0.AddSeconds(seconds);

    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    /// <summary>mirror 0–1, start 1–13, build 13–15, push 15–20, build 20–21, push 21–24, deploy 24–30, tests 30–40, teardown 40–45.</summary>
    private static RunTimeline ExampleRun()
    {
        var timeline = new RunTimeline();
        timeline.Record(RunPhase.Teardown, At(40), S(5));   // recorded out of order on purpose: the timeline sorts by start
        timeline.Record(RunPhase.Mirror, At(0), S(1));
        timeline.Record(RunPhase.Start, At(1), S(12), note: "warm start; slowest part: node Ready 3.2 s");
        timeline.Record(RunPhase.Build, At(13), S(2));
        timeline.Record(RunPhase.Push, At(15), S(5));
        timeline.Record(RunPhase.Build, At(20), S(1));
        timeline.Record(RunPhase.Push, At(21), S(3));
        timeline.Record(RunPhase.Deploy, At(24), S(6));
        return timeline;
    }

    [Fact]
    public void Steps_add_up_per_phase_in_run_order_and_the_test_phase_is_the_time_between_deploy_and_teardown()
    {
        var phases = ExampleRun().Phases(At(100));

        Assert.Equal([RunPhase.Mirror, RunPhase.Start, RunPhase.Build, RunPhase.Push, RunPhase.Deploy, RunPhase.Test, RunPhase.Teardown], phases.Select(p => p.Phase));
        var push = phases.Single(p => p.Phase == RunPhase.Push);
        Assert.Equal((S(15), S(8), 2), (push.Start, push.Duration, push.Count));
        var test = phases.Single(p => p.Phase == RunPhase.Test);
        Assert.Equal((S(30), S(10), 1), (test.Start, test.Duration, test.Count));
        Assert.Equal(S(45), ExampleRun().Total(At(100)));
    }

    [Fact]
    public void The_table_has_one_aligned_line_per_phase_with_seconds_and_share_then_the_total()
    {
        var lines = ExampleRun().Render(At(100)).Split('\n');

        Assert.Equal("KubeDind timeline (where this run's time went):", lines[0]);
        Assert.Equal(
            [
                "  mirror     1.0 s     2%  at +0.0 s",
                "  start     12.0 s    27%  at +1.0 s   warm start; slowest part: node Ready 3.2 s",
                "  build      3.0 s     7%  at +13.0 s  2 images",
                "  push       8.0 s    18%  at +15.0 s  2 images",
                "  deploy     6.0 s    13%  at +24.0 s",
                "  test      10.0 s    22%  at +30.0 s",
                "  teardown   5.0 s    11%  at +40.0 s",
                "  total     45.0 s   100%",
            ],
            lines[1..]);
    }

    [Fact]
    public void Time_outside_every_step_shows_as_its_own_line_so_the_lines_add_up_to_the_total()
    {
        var timeline = new RunTimeline();
        timeline.Record(RunPhase.Mirror, At(0), S(1));
        timeline.Record(RunPhase.Start, At(5), S(5));   // 4 s of the build's own work between the two

        var render = timeline.Render(At(10));

        Assert.Equal("  other    4.0 s    40%" + new string(' ', 13) + "between the steps", render.Split('\n')[^2]);
    }

    [Fact]
    public void Without_a_teardown_the_test_phase_runs_up_to_now_and_a_failed_deploy_starts_none()
    {
        var kept = new RunTimeline();
        kept.Record(RunPhase.Deploy, At(0), S(2));
        var failed = new RunTimeline();
        failed.Record(RunPhase.Deploy, At(0), S(2), failed: true);
        failed.Record(RunPhase.Teardown, At(5), S(1));

        var test = kept.Phases(At(7)).Single(p => p.Phase == RunPhase.Test);

        Assert.Equal((S(5), "no teardown yet: up to now"), (test.Duration, test.Note));
        Assert.DoesNotContain(failed.Phases(At(7)), p => p.Phase == RunPhase.Test);
        Assert.Contains("1 failed", failed.Render(At(7)), StringComparison.Ordinal);
    }

    [Fact]
    public void Several_clusters_in_one_run_add_each_ones_tests_and_count_the_clusters()
    {
        var timeline = new RunTimeline();
        foreach (var offset in new[] { 0, 100 })
        {
            timeline.Record(RunPhase.Start, At(offset), S(10));
            timeline.Record(RunPhase.Deploy, At(offset + 10), S(5));
            timeline.Record(RunPhase.Teardown, At(offset + 30), S(5));
        }

        var phases = timeline.Phases(At(200));

        Assert.Equal(S(30), phases.Single(p => p.Phase == RunPhase.Test).Duration);
        Assert.Contains("20.0 s", timeline.Render(At(200)).Split('\n').Single(l => l.TrimStart().StartsWith("start", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("2 clusters", timeline.Render(At(200)), StringComparison.Ordinal);
    }

    [Fact]
    public void An_empty_timeline_says_nothing_ran_and_the_test_phase_cannot_be_recorded()
    {
        var timeline = new RunTimeline();

        Assert.True(timeline.IsEmpty);
        Assert.Equal("KubeDind timeline: no KubeDind step ran.", timeline.Render(At(0)));
        var error = Assert.Throws<ArgumentException>(() => timeline.Record(RunPhase.Test, At(0), S(1)));
        Assert.Contains("between a deploy and the teardown", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => timeline.Record(RunPhase.Push, At(0), S(-1)));
    }

    [Fact]
    public async Task A_timed_step_is_recorded_with_its_note_or_as_failed_with_its_failed_note_and_still_throws()
    {
        var timeline = new RunTimeline();

        Assert.Equal(42, await timeline.TimeAsync(RunPhase.Start, "connected", "connecting", () => Task.FromResult(42)));
        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => timeline.TimeAsync<int>(RunPhase.Deploy, "deployed", "deploying", () => throw new InvalidOperationException("rollout failed")));
        Assert.Equal("rollout failed", thrown.Message);

        var phases = timeline.Phases(DateTimeOffset.UtcNow);
        var start = phases.Single(p => p.Phase == RunPhase.Start);
        var deploy = phases.Single(p => p.Phase == RunPhase.Deploy);
        Assert.Equal((1, 0, "connected"), (start.Count, start.Failed, start.Note));
        Assert.Equal((1, 1, "deploying"), (deploy.Count, deploy.Failed, deploy.Note));
        Assert.DoesNotContain(phases, p => p.Phase == RunPhase.Test);   // a failed deploy starts no test phase
    }

    [Fact]
    public void A_cluster_start_says_warm_or_cold_and_its_slowest_part_in_the_names_of_its_own_timings()
    {
        var timings = new ClusterTimings(S(1), S(2), [("container running", S(2.5)), ("node Ready (kubedind)", S(9)), ("kube-system pods", S(10))], S(10.2))
        {
            Start = "warm start from kubedind-state-x (saved 2026-12-04 12:00:00Z)",
        };

        Assert.Equal("warm start; slowest part: node Ready 6.5 s", timings.Brief());
        Assert.StartsWith("cold start;", (timings with { Start = "cold start: no saved state" }).Brief(), StringComparison.Ordinal);
    }
}
