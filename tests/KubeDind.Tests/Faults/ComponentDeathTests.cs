using System.Diagnostics;
using KubeDind.Cluster;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Faults;

/// <summary>
/// A component dying inside a running cluster (the inner dockerd, the registry; k3s with a k3s binary): the next step
/// fails at once in one line naming the dead component and a diagnostics directory holding its log, and Teardown
/// still removes everything.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ComponentDeathTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("dockerd")]
    [InlineData("registry")]
    public Task A_dead_component_fails_the_next_step_in_one_line_and_teardown_still_cleans_up(string component) =>
        KillAndCheckAsync(component, kubernetes: false);

    [Fact]
    public Task Dead_k3s_fails_the_next_deploy_in_one_line_and_teardown_still_cleans_up()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip("needs Kubernetes: set KUBEDIND_K3S_BINARY to a k3s binary");
        }

        return KillAndCheckAsync("k3s", kubernetes: true);
    }

    private async Task KillAndCheckAsync(string component, bool kubernetes)
    {
        var log = new CapturingLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        var artifacts = FaultSupport.TemporaryDirectory("death");
        var settings = FaultSupport.ComposeSettings("death-" + component, artifacts) with { Kubernetes = kubernetes, ReadinessTimeout = TimeSpan.FromMinutes(kubernetes ? 5 : 3) };
        var before = await EngineInventory.TakeAsync(session.Docker);
        var cluster = await session.StartClusterAsync(settings, Ct);
        try
        {
            // The host sees the registry answer a moment before the entrypoint records that it started: wait for "running".
            for (var i = 0; i < 40 && (await FaultSupport.ShellAsync(session, cluster.ContainerId, $"jq -r .state.phase {ImageStatus.Path}")).StandardOutput.Trim() != "running"; i++)
            {
                await Task.Delay(250, Ct);
            }

            var kill = await FaultSupport.ShellAsync(session, cluster.ContainerId, $"kill -9 \"$(cat /run/kubedind/{component}.pid)\"");
            Assert.True(kill.Succeeded, kill.FirstErrorLine);

            // The entrypoint checks its daemons every second; wait until it has recorded the death.
            var deadline = DateTime.UtcNow.AddSeconds(15);
            string state;
            do
            {
                await Task.Delay(250, Ct);
                state = (await FaultSupport.ShellAsync(session, cluster.ContainerId, $"jq -c .state {ImageStatus.Path}")).StandardOutput.Trim();
            }
            while (!state.StartsWith("{\"phase\":\"failed\"", StringComparison.Ordinal) && DateTime.UtcNow < deadline);
            output.WriteLine($"state inside: {state}");

            var watch = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<KubeDindException>(() => kubernetes
                ? cluster.DeployAsync(new KubeDind.Deploy.DeploySettings { InlineManifests = ["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"] }, Ct)
                : cluster.PushImageAsync("kdt-never-built/any:1", cancellationToken: Ct));
            watch.Stop();
            output.WriteLine(error.Message);
            output.WriteLine($"the step failed after {watch.Elapsed.TotalSeconds:0.00} s");

            Assert.DoesNotContain('\n', error.Message);
            Assert.Contains($"its {component} died", error.Message);
            var directory = Directory.GetDirectories(Path.Combine(artifacts, cluster.Name)).Single();
            Assert.Contains(directory, error.Message);
            Assert.True(File.Exists(Path.Combine(directory, component + ".log")), $"{component}.log in {directory}");
            Assert.True(File.Exists(Path.Combine(directory, "kubedind-container.log")));
            Assert.Contains("FAILED", await File.ReadAllTextAsync(Path.Combine(directory, "kubedind-container.log"), Ct));

            await cluster.TeardownAsync(cancellationToken: Ct);
            Assert.Empty(before.NewIn(await EngineInventory.TakeAsync(session.Docker), session.RunId));
        }
        finally
        {
            await cluster.TeardownAsync(cancellationToken: CancellationToken.None);
            Directory.Delete(artifacts, recursive: true);
        }
    }
}
