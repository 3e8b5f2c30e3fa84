using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// Kustomize directories deployed into a real cluster, rendered by the cluster's own kubectl (k3s v1.21's embeds
/// kustomize v4): an overlay that changes replicas, generates a ConfigMap and sets the image tag rolls out and serves
/// the overlay's values, written both the old way (<c>bases:</c>, <c>patchesStrategicMerge:</c>) and the way kustomize's
/// docs write it today (a folder in <c>resources:</c>, <c>replicas:</c>, <c>labels:</c>, <c>patches:</c> with a target, a
/// component); a kustomization that does not build fails in one line quoting kustomize.
/// </summary>
public sealed class RealClusterKustomizeTests(ITestOutputHelper output)
{
    private const string Image = "kdt-kustomize-web";

    [Fact]
    public async Task An_overlay_with_replicas_a_configmap_generator_and_an_image_tag_rolls_out_and_a_broken_one_fails_in_one_line()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(ClusterTestSupport.NoK3sReason);
        }

        var ct = TestContext.Current.CancellationToken;
        await using var session = await KubeDindSession.ConnectAsync(new ConsoleKubeDindLog(), cancellationToken: ct);
        var image = await BuildWebImageAsync(session, ct);
        try
        {
            await using var cluster = await session.StartClusterAsync(new ClusterSettings { Name = ClusterTestSupport.UniqueName("kustomize") }, ct);
            await cluster.PushImageAsync(image, null, ct);

            var result = await cluster.DeployAsync(
                new DeploySettings { Manifests = ["kustomize/web/overlays/ci"], BaseDirectory = ManifestFiles.Root, Namespace = "kdt-kustomize", Timeout = TimeSpan.FromMinutes(3) },
                ct);

            output.WriteLine(string.Join("\n", result.Objects));
            Assert.True(result.Succeeded);
            var configMap = Assert.Single(result.Objects, o => o.Kind == "ConfigMap");
            Assert.StartsWith("web-config-", configMap.Name, StringComparison.Ordinal);
            var deployment = await cluster.Kubernetes.AppsV1.ReadNamespacedDeploymentAsync("web", "kdt-kustomize", cancellationToken: ct);
            Assert.Equal(2, deployment.Spec.Replicas);
            Assert.Equal(2, deployment.Status.ReadyReplicas);
            var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
            Assert.EndsWith($"/{Image}:overlay", container.Image, StringComparison.Ordinal);
            Assert.Equal(configMap.Name, Assert.Single(container.EnvFrom).ConfigMapRef.Name);
            await using (var endpoint = await cluster.OpenServiceAsync("web", "http", "kdt-kustomize", cancellationToken: ct))
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
                Assert.Equal("hello-from-the-overlay", (await http.GetStringAsync(endpoint.Url, ct)).Trim());
            }

            await DeployModernOverlayAsync(cluster, ct);

            var broken = ManifestFiles.Path("kustomize/broken/kustomization.yaml");
            var error = await Assert.ThrowsAsync<KubeDindException>(() => cluster.DeployAsync(new DeploySettings { Manifests = [broken], Namespace = "kdt-kustomize" }, ct));
            output.WriteLine(error.Message);
            Assert.StartsWith($"Deploy: kustomization {broken} does not build: kustomize says \"", error.Message, StringComparison.Ordinal);
            Assert.Contains("nowhere", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error.Message);
            Assert.DoesNotContain("/tmp/kubedind-kustomize-", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(session, image);
        }
    }

    /// <summary>The same app through overlays/modern: its component's greeting, its labels, its targeted patch.</summary>
    private async Task DeployModernOverlayAsync(KubeDindCluster cluster, CancellationToken ct)
    {
        const string ns = "kdt-kustomize-modern";
        var result = await cluster.DeployAsync(
            new DeploySettings { Manifests = ["kustomize/web/overlays/modern"], BaseDirectory = ManifestFiles.Root, Namespace = ns, Timeout = TimeSpan.FromMinutes(3) },
            ct);

        output.WriteLine(string.Join("\n", result.Objects));
        var deployment = await cluster.Kubernetes.AppsV1.ReadNamespacedDeploymentAsync("web", ns, cancellationToken: ct);
        Assert.Equal(2, deployment.Status.ReadyReplicas);
        Assert.Equal("modern-overlay", deployment.Metadata.Annotations["kubedind.io/patched-by"]);
        Assert.Equal("kdt-modern", deployment.Metadata.Labels["app.kubernetes.io/part-of"]);
        Assert.False(deployment.Spec.Selector.MatchLabels.ContainsKey("app.kubernetes.io/part-of"));
        Assert.EndsWith($"/{Image}:overlay", Assert.Single(deployment.Spec.Template.Spec.Containers).Image, StringComparison.Ordinal);
        await using var endpoint = await cluster.OpenServiceAsync("web", "http", ns, cancellationToken: ct);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        Assert.Equal("hello-from-a-component", (await http.GetStringAsync(endpoint.Url, ct)).Trim());
    }

    /// <summary>A tiny HTTP server answering with $GREETING (perl is in the base image; nothing can be pulled here).</summary>
    private static async Task<string> BuildWebImageAsync(KubeDindSession session, CancellationToken ct)
    {
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(ct);
        const string server = """
            use IO::Socket::INET;
            my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die "listen: $!";
            while (my $c = $s->accept) { while (my $l = <$c>) { last if $l =~ /^\r?$/ } print $c "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n$ENV{GREETING}\n"; close $c; }
            """;
        var context = new BuildContext()
            .AddText("server.pl", server)
            .AddText("Dockerfile", $"FROM {baseImage}\nCOPY server.pl /server.pl\nCMD [\"perl\", \"/server.pl\"]\n");
        var image = $"{Image}:overlay";
        await new ImageStore(session.Docker, session.Log).BuildAsync(context, image, new Dictionary<string, string>(), KubeDindLabels.ForResource("test", session.RunId), ct);
        return image;
    }
}
