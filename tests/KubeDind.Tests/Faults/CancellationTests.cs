using System.Text.RegularExpressions;
using KubeDind.Cluster;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Faults;

/// <summary>
/// Cancellation (what Ctrl+C in Cake and Nuke turns into) at known points of StartCluster, PushImage and Deploy:
/// the step throws an <see cref="OperationCanceledException"/> whose one line says "cancelled", and everything the
/// step created is gone.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed partial class CancellationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("before the container starts", "created container")]
    [InlineData("after the container started", "container started after")]
    public async Task Cancelled_start_removes_what_it_created_and_says_cancelled(string when, string trigger)
    {
        var log = new CancelOnLog(new Regex(Regex.Escape(trigger)));
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: log.Token);
        var artifacts = FaultSupport.TemporaryDirectory("cancel");
        var before = await EngineInventory.TakeAsync(session.Docker);
        try
        {
            var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => session.StartClusterAsync(FaultSupport.ComposeSettings("cancel", artifacts), log.Token));
            output.WriteLine($"cancelled {when}: {error.GetType().Name}: {error.Message}");

            Assert.True(log.Token.IsCancellationRequested, $"the trigger '{trigger}' was never logged");
            Assert.Contains("cancelled", error.Message);
            Assert.DoesNotContain('\n', error.Message);
            Assert.Empty(before.NewIn(await EngineInventory.TakeAsync(session.Docker), session.RunId));
        }
        finally
        {
            Directory.Delete(artifacts, recursive: true);
        }
    }

    [Fact]
    public async Task Cancelled_push_removes_its_temporary_tag_says_cancelled_and_leaves_the_cluster_working()
    {
        var log = new CancelOnLog(PushProgress());
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: TestContext.Current.CancellationToken);
        var artifacts = FaultSupport.TemporaryDirectory("cancel-push");
        var image = ClusterTestSupport.UniqueName("cancel-push") + ":1";
        await ClusterTestSupport.BuildRandomDataImageAsync(session, image, 30);
        var cluster = await session.StartClusterAsync(FaultSupport.ComposeSettings("cancel-push", artifacts), TestContext.Current.CancellationToken);
        try
        {
            var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cluster.PushImageAsync(image, cancellationToken: log.Token));
            output.WriteLine($"{error.GetType().Name}: {error.Message}");
            Assert.True(log.Token.IsCancellationRequested, "the push never logged its progress");
            Assert.Contains("cancelled", error.Message);
            Assert.DoesNotContain('\n', error.Message);

            var tags = (await session.Docker.Images.InspectImageAsync(image, TestContext.Current.CancellationToken)).RepoTags;
            Assert.Equal([image], tags);

            // The cluster is unharmed: the same push, not cancelled, goes through.
            var reference = await cluster.PushImageAsync(image, cancellationToken: TestContext.Current.CancellationToken);
            var run = await cluster.ExecAsync("docker", "pull", reference);
            Assert.True(run.Succeeded, run.FirstErrorLine);
        }
        finally
        {
            await cluster.TeardownAsync(cancellationToken: CancellationToken.None);
            await ClusterTestSupport.RemoveImageAsync(session, image);
            Directory.Delete(artifacts, recursive: true);
        }
    }

    [Fact]
    public async Task Cancelled_deploy_says_cancelled_and_the_cluster_keeps_working()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip("needs Kubernetes: set KUBEDIND_K3S_BINARY to a k3s binary");
        }

        var log = new CancelOnLog(new Regex("^Deploy|apply", RegexOptions.IgnoreCase));
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: TestContext.Current.CancellationToken);
        var artifacts = FaultSupport.TemporaryDirectory("cancel-deploy");
        var cluster = await session.StartClusterAsync(FaultSupport.ComposeSettings("cancel-deploy", artifacts) with { Kubernetes = true, ReadinessTimeout = TimeSpan.FromMinutes(5) }, TestContext.Current.CancellationToken);
        try
        {
            var manifests = new KubeDind.Deploy.DeploySettings { InlineManifests = ["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kdt-cancel}\ndata: {a: b}\n"] };
            var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cluster.DeployAsync(manifests, log.Token));
            output.WriteLine($"{error.GetType().Name}: {error.Message}");
            Assert.Contains("cancelled", error.Message);
            Assert.DoesNotContain('\n', error.Message);

            await cluster.DeployAsync(manifests, TestContext.Current.CancellationToken);
        }
        finally
        {
            await cluster.TeardownAsync(cancellationToken: CancellationToken.None);
            Directory.Delete(artifacts, recursive: true);
        }
    }

    // A progress line of the push itself ("push repo:tag: 0/1 layers done, ..."), so the cancellation lands mid-transfer.
    [GeneratedRegex("^push [^ ]+: (.*(Preparing|Pushing|Waiting)|[0-9]+/[0-9]+ layers done)")]
    private static partial Regex PushProgress();
}
