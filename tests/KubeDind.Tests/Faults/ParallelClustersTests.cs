using System.Diagnostics;
using KubeDind.Cluster;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Faults;

/// <summary>
/// Three clusters started at once on this 2-core machine: all become ready, none sees another's images or ports, and
/// tearing one down leaves the other two working. In compose mode whatever the environment: what isolates clusters
/// (their containers, volumes, ports and registries) is the same with k3s, and three k3s starting at once on 2 cores
/// starve each other; parallel Kubernetes starts are WarmStartTests' two warm starts, each with its own API.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ParallelClustersTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Three_clusters_started_in_parallel_are_ready_and_isolated_and_one_teardown_spares_the_others()
    {
        using var session = await KubeDindSession.ConnectAsync(new CapturingLog(), cancellationToken: Ct);
        var artifacts = FaultSupport.TemporaryDirectory("three");
        var image = ClusterTestSupport.UniqueName("three") + ":1";
        await ClusterTestSupport.BuildTinyImageAsync(session, image);
        var before = await EngineInventory.TakeAsync(session.Docker);
        var watch = Stopwatch.StartNew();
        var starts = Enumerable.Range(1, 3)
            .Select(i => session.StartClusterAsync(
                FaultSupport.ComposeSettings($"three{i}", artifacts) with
                {
                    KubeconfigDirectory = null,
                    ReadinessTimeout = TimeSpan.FromMinutes(3),
                },
                Ct))
            .ToList();
        KubeDindCluster[] clusters = [];
        try
        {
            try
            {
                clusters = await Task.WhenAll(starts);
            }
            finally
            {
                clusters = starts.Where(s => s.IsCompletedSuccessfully).Select(s => s.Result).ToArray();
            }

            output.WriteLine($"three compose-mode clusters ready after {watch.Elapsed.TotalSeconds:0.0} s: "
                + string.Join("; ", clusters.Select(c => $"{c.Name} ready {c.Timings.Ready.TotalSeconds:0.0} s")));
            Assert.Equal(3, clusters.Length);
            Assert.Equal(3, clusters.Select(c => c.RegistryHostEndpoint).Distinct().Count());
            Assert.Equal(3, clusters.Select(c => c.ContainerId).Distinct().Count());

            // An image pushed to the first is in no other registry or inner engine.
            var reference = await clusters[0].PushImageAsync(image, cancellationToken: Ct);
            foreach (var other in clusters.Skip(1))
            {
                Assert.Null(await ClusterTestSupport.RegistryTagsAsync(other.RegistryHostEndpoint, reference.Split('/', 2)[1].Split(':')[0]));
                Assert.False((await other.ExecAsync("docker", "pull", reference)).Succeeded, $"{other.Name} pulled {reference}");
            }

            await clusters[0].TeardownAsync(cancellationToken: Ct);
            foreach (var other in clusters.Skip(1))
            {
                var pushed = await other.PushImageAsync(image, cancellationToken: Ct);
                var pull = await other.ExecAsync("docker", "pull", pushed);
                Assert.True(pull.Succeeded, $"{other.Name}: {pull.FirstErrorLine}");
            }
        }
        finally
        {
            foreach (var cluster in clusters)
            {
                await cluster.TeardownAsync(cancellationToken: CancellationToken.None);
            }

            await ClusterTestSupport.RemoveImageAsync(session, image);
            Directory.Delete(artifacts, recursive: true);
        }

        Assert.Empty(before.NewIn(await EngineInventory.TakeAsync(session.Docker), session.RunId));
    }
}
