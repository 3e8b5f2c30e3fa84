using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Run;

namespace KubeDind.Tests.Cluster;

/// <summary>A whole cluster life on its own: start, push ~100 MB, teardown, and nothing left behind.</summary>
[Collection("Cluster")]
public sealed class ClusterLifecycleTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Start_push_teardown_timings_and_no_leftovers()
    {
        var log = new CapturingLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        var bigImage = ClusterTestSupport.UniqueName("big") + ":1";
        await ClusterTestSupport.BuildRandomDataImageAsync(session, bigImage, 100);
        try
        {
            var before = await EngineInventory.TakeAsync(session.Docker);
            var settings = ClusterTestSupport.ComposeSettings("lifecycle") with { StopTimeout = TimeSpan.FromSeconds(15) };

            var cluster = await session.StartClusterAsync(settings, Ct);
            var mounted = (await session.Docker.Containers.InspectContainerAsync(cluster.ContainerId, Ct)).Mounts.Where(m => m.Type == "volume").Select(m => m.Name).ToList();
            // The engine's layer store is kept between clusters (as the mirror caches are); the cluster's own volumes go with it.
            Assert.Contains(LayerStoreSettings.DefaultVolume, mounted);
            var volumes = mounted.Where(v => v != LayerStoreSettings.DefaultVolume).ToList();
            var labels = (await session.Docker.Containers.InspectContainerAsync(cluster.ContainerId, Ct)).Config.Labels;
            Assert.Equal(KubeDindLabels.OwnerValue, labels[KubeDindLabels.Owner]);
            Assert.Equal(session.RunId, labels[KubeDindLabels.RunId]);
            Assert.True(labels.ContainsKey(KubeDindLabels.Created));

            var push = Stopwatch.StartNew();
            var reference = await cluster.PushImageAsync(bigImage, cancellationToken: Ct);
            push.Stop();
            var size = (await session.Docker.Images.InspectImageAsync(bigImage, Ct)).Size;

            var teardown = Stopwatch.StartNew();
            await cluster.TeardownAsync(cancellationToken: Ct);
            teardown.Stop();
            await cluster.TeardownAsync(cancellationToken: Ct); // idempotent

            var after = await EngineInventory.TakeAsync(session.Docker);
            var leftovers = before.NewIn(after, session.RunId);
            var allVolumes = (await session.Docker.Volumes.ListAsync(Ct)).Volumes?.Select(v => v.Name).ToHashSet() ?? [];

            output.WriteLine("=== KubeDind cluster run (compose mode) ===");
            output.WriteLine($"container started after      {cluster.Timings.ContainerStarted.TotalSeconds,6:0.0} s (image ready {cluster.Timings.ImageReady.TotalSeconds:0.0} s, privilege {cluster.Privilege})");
            foreach (var (gate, elapsed) in cluster.Timings.Gates)
            {
                output.WriteLine($"gate passed after            {elapsed.TotalSeconds,6:0.0} s  {gate}");
            }

            output.WriteLine($"ready after                  {cluster.Timings.Ready.TotalSeconds,6:0.0} s");
            output.WriteLine($"push of {size / 1_000_000.0:0} MB image took     {push.Elapsed.TotalSeconds,6:0.0} s  → {reference}");
            output.WriteLine($"teardown took                {teardown.Elapsed.TotalSeconds,6:0.0} s");
            output.WriteLine($"engine before: {before.Count("container")} containers, {before.Count("volume")} volumes, {before.Count("network")} networks; after: {after.Count("container")}, {after.Count("volume")}, {after.Count("network")} (the engine is shared: other helpers' tests run meanwhile)");
            output.WriteLine(session.Timeline.Render());
            output.WriteLine($"leftovers = {leftovers.Count}{(leftovers.Count == 0 ? string.Empty : ": " + string.Join(", ", leftovers))}");

            Assert.True(size > 100_000_000, $"the test image is {size} bytes");
            var phases = session.Timeline.Phases(DateTimeOffset.UtcNow);
            Assert.Equal([RunPhase.Start, RunPhase.Push, RunPhase.Teardown], phases.Select(p => p.Phase));
            Assert.All(phases, p => Assert.Equal((1, 0), (p.Count, p.Failed)));   // the second, idempotent teardown records nothing
            Assert.InRange(phases[1].Duration, TimeSpan.Zero, push.Elapsed);
            Assert.Empty(leftovers);
            Assert.Equal(4, volumes.Count);
            Assert.DoesNotContain(volumes, allVolumes.Contains);
            Assert.Contains(LayerStoreSettings.DefaultVolume, allVolumes);
            Assert.False(File.Exists(cluster.KubeconfigPath ?? "/nonexistent"));
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(session, bigImage);
        }
    }

    [Fact]
    public async Task Sweep_removes_clusters_whose_owner_is_gone_and_keeps_the_rest()
    {
        var log = new CapturingLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        var image = await new KubeDind.Docker.BaseImage(session.Docker, log).EnsureAsync(Ct); // any image: the containers only need to exist
        var orphan = ClusterTestSupport.UniqueName("orphan");
        var foreign = ClusterTestSupport.UniqueName("foreign");

        // A "cluster" of a dead process (pid that cannot exist), and a container KubeDind did not create.
        var orphanLabels = KubeDindLabels.ForResource(StartCluster.Role, "dead-run");
        orphanLabels[KubeDindLabels.OwnerPid] = "999999999";
        orphanLabels[KubeDindLabels.Cluster] = orphan;
        var created = new List<string>();
        foreach (var (name, labels) in new[] { (orphan, orphanLabels), (foreign, new Dictionary<string, string> { ["kdt"] = "foreign" }) })
        {
            var response = await session.Docker.Containers.CreateContainerAsync(
                new CreateContainerParameters { Name = name, Image = image, Labels = labels, Entrypoint = ["/bin/true"] }, Ct);
            created.Add(response.ID);
        }

        try
        {
            var result = await session.SweepAsync(cancellationToken: Ct);

            // Every StartCluster sweeps first, and tests start clusters in parallel in this same process (same owner
            // identity): one of their sweeps may have removed the orphan a moment before this one.
            Assert.True(
                result.RemovedContainers.Contains(orphan) || !(await session.Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true }, Ct)).Any(c => c.ID == created[0]),
                "the orphan was neither swept now nor gone already");
            Assert.DoesNotContain(foreign, result.RemovedContainers);
            var names = (await session.Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true }, Ct)).SelectMany(c => c.Names).ToList();
            Assert.DoesNotContain("/" + orphan, names);
            Assert.Contains("/" + foreign, names);
        }
        finally
        {
            foreach (var id in created)
            {
                try
                {
                    await session.Docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
                }
                catch (DockerApiException)
                {
                }
            }
        }
    }

    [Fact]
    public void Stale_when_owner_process_is_gone_or_too_old()
    {
        var labels = KubeDindLabels.ForResource(StartCluster.Role, "run");
        Assert.Null(Sweep.WhyStale(labels, TimeSpan.FromHours(6)));
        Assert.Contains("older than", Sweep.WhyStale(labels, TimeSpan.FromHours(6), DateTimeOffset.UtcNow.AddHours(7)));
        labels[KubeDindLabels.OwnerPid] = "999999999";
        Assert.Contains("is gone", Sweep.WhyStale(labels, TimeSpan.FromHours(6)));
        labels[KubeDindLabels.OwnerHost] = "another-host";
        Assert.Null(Sweep.WhyStale(labels, TimeSpan.FromHours(6)));
    }

    [Theory]
    [InlineData("myapp:1.0", null, "myapp", "1.0")]
    [InlineData("myapp", null, "myapp", "id-0123456789ab")]
    [InlineData("myapp:latest", null, "myapp", "id-0123456789ab")]
    [InlineData("registry.example.com:443/team/app:2", null, "team/app", "2")]
    [InlineData("team/app:2", null, "team/app", "2")]
    [InlineData("myapp:1.0", "renamed", "renamed", "id-0123456789ab")]
    [InlineData("myapp:1.0", "renamed:3", "renamed", "3")]
    public void Cluster_image_names_have_fixed_tags(string hostImage, string? name, string repository, string tag)
    {
        var (actualRepository, actualTag) = PushImage.ClusterImageName(hostImage, name, "sha256:0123456789abcdef0123");
        Assert.Equal(repository, actualRepository);
        Assert.Equal(tag, actualTag);
    }

    [Fact]
    public void Kubeconfig_server_is_rewritten_to_the_published_port()
    {
        const string kubeconfig = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: abc\n    server: https://127.0.0.1:6443\n  name: default\n";
        var rewritten = ClusterKubeconfig.Rewrite(kubeconfig, "https://127.0.0.1:41234");
        Assert.Contains("    server: https://127.0.0.1:41234\n", rewritten);
        Assert.DoesNotContain("6443", rewritten);
    }

    [Fact]
    public async Task Kubeconfig_file_is_private()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            Assert.Skip("file modes are Unix only");
            return;
        }

        var path = Path.Combine(Path.GetTempPath(), ClusterTestSupport.UniqueName("kubeconfig"), "kubeconfig.yaml");
        try
        {
            await ClusterKubeconfig.WriteAsync(path, "apiVersion: v1\n", Ct);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
