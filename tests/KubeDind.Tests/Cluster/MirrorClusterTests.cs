using KubeDind.Cluster;
using KubeDind.Mirror;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// A cluster wired to a mirror on the shared network. No registry on the internet is reachable here, so the
/// mirror's upstream is another cluster's registry: an image pushed there is pulled in the second cluster
/// through the mirror as if it came from Docker Hub. The cluster's teardown leaves the mirror alone.
/// </summary>
[Collection("Cluster")]
public sealed class MirrorClusterTests(ComposeClusterFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Cluster_pulls_through_the_mirror_by_name_and_teardown_keeps_the_mirror()
    {
        var session = fixture.Session;
        var upstream = fixture.Cluster;
        var mirrorName = ClusterTestSupport.UniqueName("mirror");
        var repository = ClusterTestSupport.UniqueName("via-mirror");
        await ClusterTestSupport.BuildTinyImageAsync(session, repository + ":1");
        try
        {
            await upstream.PushImageAsync(repository + ":1", "library/" + repository + ":1", Ct);
            var mirror = await session.StartMirrorAsync(new MirrorSettings { Name = mirrorName }.WithOnly(new MirrorRegistry("docker.io", $"http://{upstream.Name}:5000")), Ct);
            var cluster = await session.StartClusterAsync(ClusterTestSupport.ComposeSettings("mirrored").WithMirror(mirror), Ct);
            try
            {
                Assert.Equal(mirror.Network, cluster.Network);
                var mirrors = await cluster.ExecAsync("docker", "info", "--format", "{{json .RegistryConfig.Mirrors}}");
                output.WriteLine($"inner dockerd mirrors: {mirrors.StandardOutput.Trim()}");
                Assert.Contains(mirror.Registries[0].NetworkUrl, mirrors.StandardOutput);

                // docker.io/library/<repository>:1 resolves through the mirror to the upstream cluster's registry.
                var run = await cluster.ExecAsync("docker", "run", "--rm", repository + ":1");
                Assert.True(run.Succeeded, run.FirstErrorLine);
            }
            finally
            {
                await cluster.TeardownAsync(cancellationToken: CancellationToken.None);
            }

            var stillRunning = await session.Docker.Containers.InspectContainerAsync(mirror.Registries[0].ContainerId, Ct);
            Assert.True(stillRunning.State.Running, "the cluster's teardown must not touch the mirror");
        }
        finally
        {
            await session.StopMirrorAsync(mirrorName, removeCache: true, CancellationToken.None);
            await ClusterTestSupport.RemoveImageAsync(session, repository + ":1");
        }
    }
}
