using System.Net;
using k8s;
using k8s.Models;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Docker;
using KubeDind.Existing;
using KubeDind.Run;
using KubeDind.Tests.Cluster;
using KubeDind.Tests.Deploy;

namespace KubeDind.Tests.Existing;

/// <summary>
/// A KubeDind cluster's kubeconfig used as "an existing cluster" by a second, independent handle (no session,
/// no container of its own): Deploy, service access, diagnostics and the throwaway namespace against a real k3s.
/// </summary>
public sealed class ExistingClusterTests(RealClusterFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_second_handle_deploys_into_its_own_namespace_and_removes_only_that()
    {
        var cluster = fixture.Cluster ?? throw SkipException();
        var session = fixture.Session!;
        var log = new CapturingLog();
        var artifacts = Path.Combine(Path.GetTempPath(), "kdt-existing-" + Guid.NewGuid().ToString("N")[..8]);
        var image = await TestImages.BuildPerlWebAsync(session, "kdt-existing-web:" + Guid.NewGuid().ToString("N")[..8], Ct);
        var existing = await ExistingCluster.ConnectAsync(
            new ExistingClusterSettings
            {
                Kubeconfig = cluster.KubeconfigPath,
                ThrowawayNamespace = true,
                Registry = cluster.RegistryHostEndpoint,
                RegistryPullName = cluster.RegistryClusterName,
                ArtifactsDirectory = artifacts,
            },
            log,
            Ct);
        try
        {
            output.WriteLine(existing.ToString());
            Assert.Equal("default", existing.Context);
            Assert.True(existing.OwnsNamespace);
            var ns = await cluster.Kubernetes.CoreV1.ReadNamespaceAsync(existing.DefaultNamespace, cancellationToken: Ct);
            Assert.Equal(existing.RunId, ns.Metadata.Labels[KubeDindLabels.RunId]);
            Assert.Equal(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), ns.Metadata.Annotations[KubeDindLabels.OwnerPid]);

            // Pushed to the registry the user named; the pushed-image map points there, so Deploy rewrites the manifest.
            var reference = await existing.PushImageAsync(image, cancellationToken: Ct);
            Assert.StartsWith("localhost:5000/kdt-existing-web:", reference);
            var result = await existing.DeployAsync(new DeploySettings { InlineManifests = [TestImages.WebManifest("web", image, replicas: 1)], Timeout = TimeSpan.FromMinutes(3) }, Ct);
            Assert.Contains(result.Images, i => i.Final == reference);
            Assert.All(result.Objects.Where(o => o.Kind != "Namespace"), o => Assert.Equal(existing.DefaultNamespace, o.Namespace));

            await using (var endpoint = await existing.OpenServiceAsync("web", "http", cancellationToken: Ct))
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
                Assert.StartsWith("hello from web", await http.GetStringAsync(endpoint.Url, Ct));
            }

            var bundle = await existing.CollectDiagnosticsAsync(Ct);
            Assert.StartsWith(Path.Combine(artifacts, "default"), bundle.Directory);
            Assert.Contains("pods.txt", bundle.Files);

            // A namespace left by a run that died (its process is gone) is swept; one KubeDind did not label stays.
            var dead = await CreateNamespaceAsync(cluster.Kubernetes, "kdt-dead-" + Guid.NewGuid().ToString("N")[..6], owned: true);
            var foreign = await CreateNamespaceAsync(cluster.Kubernetes, "kdt-foreign-" + Guid.NewGuid().ToString("N")[..6], owned: false);
            var swept = await existing.SweepNamespacesAsync(cancellationToken: Ct);
            Assert.Contains(dead, swept);
            Assert.DoesNotContain(foreign, swept);
            Assert.DoesNotContain(existing.DefaultNamespace, swept);
            await cluster.Kubernetes.CoreV1.DeleteNamespaceAsync(foreign, cancellationToken: Ct);
        }
        finally
        {
            await existing.TeardownAsync(Ct);
            await ClusterTestSupport.RemoveImageAsync(session, image);
            if (Directory.Exists(artifacts))
            {
                Directory.Delete(artifacts, recursive: true);
            }
        }

        // The namespace is going (or gone); the cluster itself is untouched.
        var after = await cluster.Kubernetes.CoreV1.ListNamespaceAsync(cancellationToken: Ct);
        var left = after.Items.FirstOrDefault(n => n.Metadata.Name == existing.DefaultNamespace);
        Assert.True(left is null || left.Metadata.DeletionTimestamp is not null, $"namespace {existing.DefaultNamespace} is still there");
        var nodes = await cluster.Kubernetes.CoreV1.ListNodeAsync(cancellationToken: Ct);
        Assert.NotEmpty(nodes.Items);
        Assert.Throws<KubeDindException>(() => existing.Kubernetes);

        // Without a session the handle keeps its own timeline: the push, the deploy, the test time after it, the teardown.
        Assert.Equal([RunPhase.Push, RunPhase.Deploy, RunPhase.Test, RunPhase.Teardown], existing.Timeline.Phases(DateTimeOffset.UtcNow).Select(p => p.Phase));
    }

    [Fact]
    public async Task Pushing_without_a_registry_says_to_name_one()
    {
        var cluster = fixture.Cluster ?? throw SkipException();
        await using var existing = await fixture.Session!.ConnectClusterAsync(new ExistingClusterSettings { Kubeconfig = cluster.KubeconfigPath, Context = "default" }, Ct);

        var error = await Assert.ThrowsAsync<KubeDindException>(() => existing.PushImageAsync("whatever:1", cancellationToken: Ct));

        Assert.Equal("push: default is an existing cluster with no registry to push to; set ExistingClusterSettings.Registry to one its nodes pull from (e.g. registry.example.com/team).", error.Message);
        Assert.Equal("default", existing.DefaultNamespace);
        Assert.False(existing.OwnsNamespace);
        Assert.Same(fixture.Session.Timeline, existing.Timeline);   // a session's connect records into the session's timeline
    }

    private static async Task<string> CreateNamespaceAsync(IKubernetes client, string name, bool owned)
    {
        var metadata = new V1ObjectMeta { Name = name };
        if (owned)
        {
            metadata.Labels = new Dictionary<string, string> { [KubeDindLabels.Owner] = KubeDindLabels.OwnerValue, [KubeDindLabels.Role] = "throwaway-namespace", [KubeDindLabels.RunId] = "deadrun" };
            // This host, kernel and PID namespace, as a real run's namespace records them, but a PID no process has.
            metadata.Annotations = new Dictionary<string, string>(OwnerIdentity.Current.Labels())
            {
                [KubeDindLabels.OwnerPid] = "2147483000",
                [KubeDindLabels.Created] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            };
        }

        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = metadata }, cancellationToken: Ct);
        return name;
    }

    private static Exception SkipException()
    {
        Assert.Skip(ClusterTestSupport.NoK3sReason);
        return new InvalidOperationException();
    }
}
