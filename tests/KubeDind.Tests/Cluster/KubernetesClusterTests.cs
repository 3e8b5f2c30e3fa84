using k8s;
using k8s.Models;
using KubeDind.Cluster;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// One Kubernetes cluster for the tests that need k3s; started only when KUBEDIND_K3S_BINARY names a k3s binary
/// (none exists on this machine by default), otherwise every test skips with that reason.
/// </summary>
public sealed class KubernetesClusterFixture : IAsyncLifetime
{
    public const string SkipReason = "KUBEDIND_K3S_BINARY is not set: no k3s binary to build a Kubernetes image with (nothing can be downloaded here); set it to a k3s v1.21+ binary to run the Kubernetes tests.";

    public CapturingLog Log { get; } = new();

    public KubeDindSession? Session { get; private set; }

    public KubeDindCluster? Cluster { get; private set; }

    public async ValueTask InitializeAsync()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            return;
        }

        Session = await KubeDindSession.ConnectAsync(Log);
        try
        {
            Cluster = await Session.StartClusterAsync(ClusterTestSupport.ComposeSettings("k8s") with
            {
                // No ImageBuild: an image with k3s is used as it is; one without is built from KUBEDIND_K3S_BINARY.
                // KUBEDIND_TEST_CLUSTER_IMAGE names a prebuilt k3s image instead (the shared default tag changes under parallel builds).
                Image = Environment.GetEnvironmentVariable("KUBEDIND_TEST_CLUSTER_IMAGE") is { Length: > 0 } image ? image : null,
                Kubernetes = true,
                ReadinessTimeout = TimeSpan.FromMinutes(5),
            });
        }
        catch (KubeDindException ex)
        {
            // Fixture failures show only the message: put the container's log lines into it.
            throw new InvalidOperationException($"{ex.Message}\n{ex.Details}", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }

        Session?.Dispose();
    }
}

[Collection("Cluster")]
public sealed partial class KubernetesClusterTests(KubernetesClusterFixture fixture, ITestOutputHelper output) : IClassFixture<KubernetesClusterFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private KubeDindCluster Cluster
    {
        get
        {
            if (fixture.Cluster is null)
            {
                Assert.Skip(KubernetesClusterFixture.SkipReason);
            }

            return fixture.Cluster!;
        }
    }

    [Fact]
    public async Task Node_is_Ready_and_the_returned_client_works_from_the_host()
    {
        var cluster = Cluster;
        output.WriteLine($"timings: {cluster.Timings}");
        Assert.StartsWith("https://127.0.0.1:", cluster.ApiEndpoint);
        Assert.Contains(cluster.Timings.Gates, g => g.Gate == "node Ready");

        var nodes = await cluster.Kubernetes.CoreV1.ListNodeAsync(cancellationToken: Ct);
        var node = Assert.Single(nodes.Items);
        Assert.Contains(node.Status.Conditions, c => c.Type == "Ready" && c.Status == "True");
        output.WriteLine($"node {node.Name()} {node.Status.NodeInfo.KubeletVersion}");
    }

    [Fact]
    public async Task Kubeconfig_is_per_run_private_and_points_at_the_published_port()
    {
        var cluster = Cluster;
        Assert.NotNull(cluster.KubeconfigPath);
        Assert.DoesNotContain(Path.Combine(".kube", "config"), cluster.KubeconfigPath);
        var text = await File.ReadAllTextAsync(cluster.KubeconfigPath, Ct);
        Assert.Contains($"server: {cluster.ApiEndpoint}", text);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cluster.KubeconfigPath));
        }

        using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(cluster.KubeconfigPath));
        Assert.NotEmpty((await client.CoreV1.ListNamespaceAsync(cancellationToken: Ct)).Items);
    }

    [Fact]
    public async Task Kubectl_runs_inside_like_docker_exec()
    {
        var result = await Cluster.ExecAsync("kubectl", "get", "nodes", "-o", "name");
        Assert.True(result.Succeeded, result.FirstErrorLine);
        Assert.Contains("node/", result.StandardOutput);
    }

    [Fact]
    public async Task Deploy_rewrites_images_pushed_in_this_run()
    {
        var cluster = Cluster;
        var tag = ClusterTestSupport.UniqueName("deploy") + ":1";
        await ClusterTestSupport.BuildTinyImageAsync(fixture.Session!, tag);
        try
        {
            await cluster.PushImageAsync(tag, cancellationToken: Ct);
            var name = ClusterTestSupport.UniqueName("job");
            var manifest = $"apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: tiny, image: \"{tag}\"}}]\n";
            var result = await cluster.DeployAsync(new KubeDind.Deploy.DeploySettings { InlineManifests = [manifest], Timeout = TimeSpan.FromMinutes(2) }, Ct);
            Assert.True(result.Succeeded);
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(fixture.Session!, tag);
        }
    }

    [Fact]
    public async Task Pod_pulls_an_image_pushed_to_the_cluster_registry()
    {
        var cluster = Cluster;
        var tag = ClusterTestSupport.UniqueName("pod") + ":1";
        await ClusterTestSupport.BuildTinyImageAsync(fixture.Session!, tag);
        try
        {
            var reference = await cluster.PushImageAsync(tag, cancellationToken: Ct);
            var name = ClusterTestSupport.UniqueName("pod");
            await cluster.Kubernetes.CoreV1.CreateNamespacedPodAsync(
                new V1Pod
                {
                    Metadata = new V1ObjectMeta { Name = name },
                    Spec = new V1PodSpec { RestartPolicy = "Never", Containers = [new V1Container { Name = "tiny", Image = reference, ImagePullPolicy = "Always" }] },
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

            Assert.Equal("Succeeded", pod.Status?.Phase);
            var logs = await cluster.ExecAsync("kubectl", "logs", name);
            Assert.Contains("ldconfig", logs.StandardOutput, StringComparison.OrdinalIgnoreCase);
            await cluster.Kubernetes.CoreV1.DeleteNamespacedPodAsync(name, "default", gracePeriodSeconds: 0, cancellationToken: Ct);
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(fixture.Session!, tag);
        }
    }
}
