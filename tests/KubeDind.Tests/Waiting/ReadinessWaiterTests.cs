using KubeDind.Tests.Cluster;
using KubeDind.Waiting;

namespace KubeDind.Tests.Waiting;

/// <summary>
/// Readiness in stages: a stage's gates are checked side by side, stages one after the other. The gates here are
/// fakes (conditions on each other's checks), since what is tested is the order of the checks, not a resource.
/// </summary>
public sealed class ReadinessWaiterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_gates_of_a_stage_are_checked_side_by_side()
    {
        // Each passes only once the other has been checked: one after the other, the first would never pass.
        FakeGate? dns = null;
        var storage = new FakeGate("default StorageClass present", () => dns!.Checks > 0);
        dns = new FakeGate("cluster DNS answers", () => storage.Checks > 0);
        var api = new FakeGate("Kubernetes API answers", () => true);

        var passed = await Waiter(new CapturingLog()).WaitInStagesAsync("cluster kdt", [[api], [storage, dns]], TimeSpan.FromSeconds(30), null, Ct);

        Assert.Equal("Kubernetes API answers", passed[0].Gate);
        Assert.Equal(["cluster DNS answers", "default StorageClass present"], passed.Skip(1).Select(p => p.Gate).Order());
        Assert.True(passed.Zip(passed.Skip(1)).All(p => p.First.Elapsed <= p.Second.Elapsed), "the gates are listed in the order they passed");
    }

    [Fact]
    public async Task A_stage_starts_only_once_the_one_before_has_passed()
    {
        var api = new FakeGate("Kubernetes API answers", () => true, passAfterChecks: 3);
        var node = new FakeGate("node Ready", () => api.Passed);

        await Waiter(new CapturingLog()).WaitInStagesAsync("cluster kdt", [[api], [node]], TimeSpan.FromSeconds(30), null, Ct);

        Assert.Equal(1, node.Checks);
    }

    [Fact]
    public async Task A_gate_of_a_stage_that_never_passes_is_named_when_the_wait_gives_up()
    {
        var dns = new FakeGate("cluster DNS answers", () => false, observation: "nslookup: no answer from 10.43.0.10");
        var node = new FakeGate("node Ready", () => true);

        var ex = await Assert.ThrowsAsync<KubeDindException>(() =>
            Waiter(new CapturingLog()).WaitInStagesAsync("cluster kdt", [[node, dns]], TimeSpan.FromMilliseconds(300), _ => Task.FromResult<string?>("the container's last lines"), Ct));

        Assert.StartsWith("cluster kdt: not ready after 0s: gate 'cluster DNS answers' did not pass (nslookup: no answer from 10.43.0.10)", ex.Message, StringComparison.Ordinal);
        Assert.Equal("the container's last lines", ex.Details);
    }

    [Fact]
    public async Task A_gate_with_its_own_poll_interval_is_checked_at_that_pace()
    {
        // At the waiter's minute the third check would come long after the wait gave up.
        var registry = new FakeGate("registry answers", () => true, passAfterChecks: 3) { PollInterval = TimeSpan.FromMilliseconds(1) };
        var slowWaiter = new ReadinessWaiter(new CapturingLog(), TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(10));

        await slowWaiter.WaitInStagesAsync("cluster kdt", [[registry]], TimeSpan.FromSeconds(30), null, Ct);

        Assert.Equal(3, registry.Checks);
    }

    private static ReadinessWaiter Waiter(CapturingLog log) => new(log, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(10));

    private sealed class FakeGate(string name, Func<bool> condition, int passAfterChecks = 1, string observation = "not yet") : IReadinessGate
    {
        private int _checks;

        public string Name => name;

        public TimeSpan? PollInterval { get; init; }

        public int Checks => Volatile.Read(ref _checks);

        public bool Passed { get; private set; }

        public Task<GateResult> CheckAsync(CancellationToken cancellationToken)
        {
            var checks = Interlocked.Increment(ref _checks);
            Passed = checks >= passAfterChecks && condition();
            return Task.FromResult(Passed ? GateResult.Pass() : GateResult.NotYet(observation));
        }
    }
}
