using k8s;
using k8s.Models;
using KubeDind.Cluster;

namespace KubeDind.Tests.Cluster;

/// <summary>The cluster's basics on the k3s cluster the test assembly shares (<see cref="Deploy.RealClusterFixture"/>).</summary>
public sealed partial class KubernetesClusterTests(Deploy.RealClusterFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private KubeDindCluster Cluster
    {
        get
        {
            if (fixture.Cluster is null)
            {
                Assert.Skip(ClusterTestSupport.NoK3sReason);
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
    public async Task The_kubelet_talks_to_the_API_at_the_rate_Kubernetes_1_27_made_its_default()
    {
        // At 1.21's 5 requests a second, six pods started at once reached the API about 0.4 s apart.
        var node = Assert.Single((await Cluster.Kubernetes.CoreV1.ListNodeAsync(cancellationToken: Ct)).Items);

        Assert.Equal(new KubeletConfig(50, 100), await KubeletConfig.ReadAsync(Cluster.Kubernetes, node.Name(), Ct));
    }

    [Fact]
    public async Task Kube_proxy_applies_service_changes_after_a_tenth_of_a_second()
    {
        // At its default 1 s the example's last route came up to 1.2 s after its pod was Ready, and Deploy waits for it.
        Assert.Equal(new KubeProxyConfig("100ms"), await KubeProxyConfig.ReadAsync(Cluster.Session.Docker, Cluster.ContainerId, Ct));
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
