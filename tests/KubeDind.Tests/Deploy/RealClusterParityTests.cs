using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// What <see cref="Fakes.FakeKubernetesApi"/> shows in CI, shown again by a real k3s (KUBEDIND_K3S_BINARY; skipped with
/// the reason without it): a missing Secret, an unknown kind that applies nothing, and a rollout that times out.
/// </summary>
public sealed class RealClusterParityTests : IClassFixture<RealClusterFixture>
{
    private readonly RealClusterFixture _fixture;
    private readonly ITestOutputHelper _output;

    public RealClusterParityTests(RealClusterFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private KubeDindCluster Cluster => _fixture.Cluster ?? throw new InvalidOperationException("no cluster");

    [Fact]
    public async Task A_mounted_secret_that_does_not_exist_fails_fast()
    {
        SkipWithoutK3s();
        var ns = Ns("secret");

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, TimeSpan.FromMinutes(3), Workload("web", "[sleep, '3600']", "      volumes: [{ name: tls, secret: { secretName: web-tls } }]")),
            Ct));

        Assert.Equal(
            $"web: Secret {ns}/web-tls (mounted as volume tls) does not exist; add it to the manifests or mark the volume optional",
            Assert.Single(ex.Diagnostics!.Summary).Split(" (the cluster has", 2)[0]);
    }

    [Fact]
    public async Task An_unknown_kind_is_one_line_and_nothing_is_applied()
    {
        SkipWithoutK3s();
        var ns = Ns("kind");
        var config = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: kept-out }\ndata: { a: b }\n";
        var gadget = "apiVersion: example.kubedind.io/v1\nkind: Gadget\nmetadata: { name: g }\n";

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => Cluster.DeployAsync(Settings(ns, TimeSpan.FromMinutes(1), config, gadget), Ct));

        Assert.StartsWith("Deploy: kind Gadget (apiVersion example.kubedind.io/v1) in ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        var maps = await Cluster.Kubernetes.CoreV1.ListNamespacedConfigMapAsync(ns, cancellationToken: Ct);
        Assert.DoesNotContain(maps.Items, m => m.Metadata.Name == "kept-out");
    }

    [Fact]
    public async Task A_rollout_timeout_says_what_it_waited_for_and_where_the_bundle_is()
    {
        SkipWithoutK3s();
        var ns = Ns("stuck");
        var probe = "          readinessProbe: { exec: { command: [\"false\"] }, periodSeconds: 1 }";

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, TimeSpan.FromSeconds(40), Workload("web", "[sleep, '3600']") + "\n" + probe),
            Ct));

        Assert.Contains($"Deployment {ns}/web did not roll out within 40s (waited for all replicas updated and available; last saw 1/1 updated, 0/1 available)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("diagnostics in " + ex.Diagnostics!.Directory, ex.Message, StringComparison.Ordinal);
        Assert.Equal(RolloutState.TimedOut, ex.Result.Objects.Single(o => o.Kind == "Deployment").Rollout);
        _output.WriteLine(ex.Message);
    }

    private static DeploySettings Settings(string ns, TimeSpan timeout, params string[] manifests) => new()
    {
        InlineManifests = manifests,
        Namespace = ns,
        Timeout = timeout,
    };

    private static string Ns(string what) => $"kdt-{what}-{Guid.NewGuid().ToString("N")[..6]}";

    private string Workload(string name, string command, string volumes = "") => $"""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          selector:
            matchLabels:
              app: {name}
          template:
            metadata:
              labels:
                app: {name}
            spec:
              terminationGracePeriodSeconds: 1
        {volumes}
              containers:
                - name: app
                  image: {_fixture.Image}
                  command: {command}
        """;

    private static void SkipWithoutK3s()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(RealClusterFixture.SkipReason);
        }
    }
}
