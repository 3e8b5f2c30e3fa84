using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Waiting;

namespace KubeDind.Tests.Progress;

/// <summary>Progress lines say real bytes, layer counts and a rate, and stay few (throttled).</summary>
public sealed class ProgressTests
{
    private sealed class Lines : IKubeDindLog
    {
        public List<string> All { get; } = [];

        public void Write(KubeDindLogLevel level, string message)
        {
            if (level >= KubeDindLogLevel.Information)
            {
                lock (All)
                {
                    All.Add(message);
                }
            }
        }
    }

    [Fact]
    public void A_push_is_one_line_over_all_layers_with_bytes_and_a_rate_and_a_summary_at_the_end()
    {
        var log = new Lines();
        var progress = new DockerProgress(log, "push app:1", TimeSpan.Zero);

        progress.Report(new JSONMessage { Status = "The push refers to repository [127.0.0.1:5000/app]" });
        progress.Report(new JSONMessage { ID = "aaaaaaaaaaaa", Status = "Preparing" });
        progress.Report(new JSONMessage { ID = "bbbbbbbbbbbb", Status = "Layer already exists" });
        progress.Report(new JSONMessage { ID = "aaaaaaaaaaaa", Status = "Pushing", Progress = new JSONProgress { Current = 4 * 1048576, Total = 8 * 1048576 } });
        progress.Report(new JSONMessage { ID = "aaaaaaaaaaaa", Status = "Pushed" });

        Assert.Equal(4, log.All.Count); // the repository line is not progress; one line per layer event at a zero interval
        Assert.Matches(@"^push app:1: 0/1 layers done, 0\.0 MiB, [0-9.]+ MiB/s$", log.All[0]);
        Assert.Matches(@"^push app:1: 1/2 layers done, 4\.0/8\.0 MiB, [0-9.]+ MiB/s$", log.All[2]);
        Assert.Matches(@"^push app:1: 2/2 layers done, 8\.0/8\.0 MiB, [0-9.]+ MiB/s$", log.All[3]);
        Assert.Matches(@"^2 layers \(1 already there\), 8\.0 MiB in [0-9.]+s \([0-9.]+ MiB/s\)$", progress.Summary);
        Assert.DoesNotContain(log.All, l => l.Contains("0.0/0.0", StringComparison.Ordinal));
    }

    [Fact]
    public void Layer_counters_are_throttled()
    {
        var log = new Lines();
        var progress = new DockerProgress(log, "push app:1", TimeSpan.FromMinutes(1));

        for (var i = 1; i <= 500; i++)
        {
            progress.Report(new JSONMessage { ID = "aaaaaaaaaaaa", Status = "Pushing", Progress = new JSONProgress { Current = i * 1024, Total = 500 * 1024 } });
        }

        Assert.Single(log.All);
    }

    [Fact]
    public async Task A_side_load_stream_reports_bytes_of_the_expected_and_a_rate()
    {
        var log = new Lines();
        var data = new byte[3 * 1048576];
        await using var stream = new ProgressStream(new MemoryStream(data), data.Length, log, "load app:1", TimeSpan.Zero);

        await stream.CopyToAsync(Stream.Null, 1048576, TestContext.Current.CancellationToken);

        Assert.Equal(data.Length, stream.BytesRead);
        Assert.Contains(log.All, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^load app:1: 3\.0/3\.0 MiB \(100%\), [0-9.]+ MiB/s$"));
        Assert.Matches(@"^3\.0 MiB in [0-9.]+s \([0-9.]+ MiB/s\)$", stream.Summary);
    }

    [Fact]
    public async Task A_slow_readiness_gate_says_what_it_sees_while_it_waits()
    {
        var log = new Lines();
        var calls = 0;
        var gate = new Gate("node Ready", () => ++calls >= 6 ? GateResult.Pass() : GateResult.NotYet("node NotReady: container runtime starting"));

        await new ReadinessWaiter(log, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(30)).WaitAsync("cluster kdt", [gate], TimeSpan.FromSeconds(10), null, TestContext.Current.CancellationToken);

        Assert.Contains(log.All, l => l.StartsWith("cluster kdt: waiting for node Ready (", StringComparison.Ordinal) && l.EndsWith("0/1 gates passed; now: node NotReady: container runtime starting)", StringComparison.Ordinal));
        Assert.StartsWith("cluster kdt: node Ready after", log.All[^1], StringComparison.Ordinal);
    }

    private sealed class Gate(string name, Func<GateResult> check) : IReadinessGate
    {
        public string Name => name;

        public Task<GateResult> CheckAsync(CancellationToken cancellationToken) => Task.FromResult(check());
    }
}
