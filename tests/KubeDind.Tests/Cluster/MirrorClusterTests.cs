using k8s;
using k8s.Models;
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

    /// <summary>
    /// With k3s on its containerd: the cluster's registries.yaml sends quay.io to the mirror, whose upstream is the
    /// compose cluster's registry (quay.io itself is unreachable here), so a pod naming quay.io/... runs only if
    /// the image came through the mirror; the mirror's own log then counts the blobs it fetched. Killed, the mirror
    /// is named in a warning by the next Deploy.
    /// </summary>
    [Fact]
    public async Task A_pod_whose_image_names_a_mirrored_registry_runs_through_the_mirror()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(ClusterTestSupport.NoK3sReason);
        }

        var session = fixture.Session;
        var upstream = fixture.Cluster;
        var mirrorName = ClusterTestSupport.UniqueName("quay-mirror");
        var repository = ClusterTestSupport.UniqueName("via-quay");
        await ClusterTestSupport.BuildTinyImageAsync(session, repository + ":1");
        KubeDindCluster? cluster = null;
        try
        {
            await upstream.PushImageAsync(repository + ":1", "kdt/" + repository + ":1", Ct);
            var mirror = await session.StartMirrorAsync(new MirrorSettings { Name = mirrorName }.WithOnly(new MirrorRegistry("quay.io", $"http://{upstream.Name}:5000")), Ct);
            cluster = await session.StartClusterAsync(
                ClusterTestSupport.KubernetesSettings("quay-mirrored").WithMirror(mirror),
                Ct);

            var name = ClusterTestSupport.UniqueName("quay-pod");
            await cluster.Kubernetes.CoreV1.CreateNamespacedPodAsync(
                new V1Pod
                {
                    Metadata = new V1ObjectMeta { Name = name },
                    Spec = new V1PodSpec { RestartPolicy = "Never", Containers = [new V1Container { Name = "tiny", Image = $"quay.io/kdt/{repository}:1" }] },
                },
                "default",
                cancellationToken: Ct);
            var deadline = DateTime.UtcNow.AddMinutes(2);
            V1Pod pod;
            do
            {
                await Task.Delay(1000, Ct);
                pod = await cluster.Kubernetes.CoreV1.ReadNamespacedPodAsync(name, "default", cancellationToken: Ct);
            }
            while (pod.Status?.Phase is not ("Succeeded" or "Failed") && DateTime.UtcNow < deadline);

            var usage = await mirror.ReadUsageAsync(cancellationToken: Ct);
            output.WriteLine($"pod {pod.Status?.Phase}: {string.Join("; ", pod.Status?.ContainerStatuses?.Select(c => c.State?.Waiting?.Message ?? c.State?.Terminated?.Reason) ?? [])}; mirror: {usage}");
            Assert.Equal("Succeeded", pod.Status?.Phase);
            Assert.True(usage.Find("quay.io")!.BlobsFromUpstream > 0, $"the mirror served nothing from its upstream: {usage}");

            // The mirror killed: the next Deploy names it in one warning, with the fix, before the runtime's own errors.
            var mirrorContainer = mirror.Registries.Single().Name;
            await session.Docker.Containers.KillContainerAsync(mirrorContainer, new global::Docker.DotNet.Models.ContainerKillParameters { Signal = "SIGKILL" }, Ct);
            await cluster.DeployAsync(new KubeDind.Deploy.DeploySettings { InlineManifests = ["apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after-mirror-kill\ndata:\n  a: b\n"] }, Ct);
            var warning = Assert.Single(fixture.Log.Warnings, w => w.Contains(mirrorContainer, StringComparison.Ordinal));
            output.WriteLine($"warning: {warning}");
            Assert.Contains("its container is exited", warning, StringComparison.Ordinal);
            Assert.Contains("StartMirror starts it again", warning, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', warning);
        }
        finally
        {
            if (cluster is not null)
            {
                await cluster.TeardownAsync(cancellationToken: CancellationToken.None);
            }

            await session.StopMirrorAsync(mirrorName, removeCache: true, CancellationToken.None);
            await ClusterTestSupport.RemoveImageAsync(session, repository + ":1");
        }
    }
}
