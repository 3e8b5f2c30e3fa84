using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// What <see cref="Fakes.FakeKubernetesApi"/> shows in CI, shown again by a real k3s (KUBEDIND_K3S_BINARY; skipped with
/// the reason without it): a missing Secret, an unknown kind that applies nothing, a rollout that times out, a failing
/// workload beside a healthy one, an OOMKilled container, a CRD with its instance, Jobs and bare Pods, diagnostics on demand.
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
            Settings(ns, TimeSpan.FromMinutes(3), Workload("web", "[sleep, '3600']", volumes: "[{ name: tls, secret: { secretName: web-tls } }]", container: "volumeMounts: [{ name: tls, mountPath: /tls }]")),
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
        var probe = "readinessProbe: { exec: { command: [\"false\"] }, periodSeconds: 1 }";

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, TimeSpan.FromSeconds(40), Workload("web", "[sleep, '3600']", null, probe)),
            Ct));

        Assert.Contains($"Deployment {ns}/web did not roll out within 40s (waited for all replicas updated and available; last saw 1/1 updated, 0/1 available)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("diagnostics in " + ex.Diagnostics!.Directory, ex.Message, StringComparison.Ordinal);
        Assert.Equal(RolloutState.TimedOut, ex.Result.Objects.Single(o => o.Kind == "Deployment").Rollout);
        _output.WriteLine(ex.Message);
    }

    [Fact]
    public async Task A_failing_workload_does_not_stop_the_wait_for_a_healthy_one()
    {
        SkipWithoutK3s();
        var ns = Ns("mixed");

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, TimeSpan.FromMinutes(3), TestManifests.Deployment("api", "localhost:5000/never-pushed:3"), Workload("web", "[sleep, '3600']")),
            Ct));

        Assert.Equal("api: image localhost:5000/never-pushed:3 not found — was it pushed?", Assert.Single(ex.Diagnostics!.Summary));
        Assert.Equal(RolloutState.Ready, ex.Result.Objects.Single(o => o.Name == "web").Rollout);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public async Task An_oom_killed_container_is_named()
    {
        SkipWithoutK3s();
        var ns = Ns("oom");
        // Ready only once the allocation succeeded, which the limit forbids: a slow machine cannot let the rollout finish first.
        var hog = "[perl, -e, '$x = \"a\" x (256 * 1024 * 1024); open my $f, \">\", \"/tmp/allocated\"; sleep 3600']";
        var ready = "readinessProbe: { exec: { command: [cat, /tmp/allocated] }, periodSeconds: 1 }";

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, TimeSpan.FromMinutes(3), Workload("worker", hog, null, "resources: { limits: { memory: 32Mi } }", ready)),
            Ct));

        Assert.Equal("worker: container app was OOMKilled (memory limit 32Mi) — raise the limit or use less memory", Assert.Single(ex.Diagnostics!.Summary));
        _output.WriteLine(ex.Message);
    }

    [Fact]
    public async Task A_crd_and_its_instance_in_one_deploy_are_applied_after_the_crd_is_established()
    {
        SkipWithoutK3s();
        var ns = Ns("crd");

        var result = await Cluster.DeployAsync(new DeploySettings { Manifests = [ManifestFiles.Path("awkward/crd.yaml")], Namespace = ns, Timeout = TimeSpan.FromMinutes(2) }, Ct);

        Assert.Equal(["CustomResourceDefinition", "Widget"], result.Objects.Select(o => o.Kind).Where(k => k != "Namespace"));
        var widget = await Cluster.Kubernetes.CustomObjects.GetNamespacedCustomObjectAsync<System.Text.Json.JsonElement>("example.kubedind.io", "v1", ns, "widgets", "blue", cancellationToken: Ct);
        Assert.Equal("blue", widget.GetProperty("spec").GetProperty("colour").GetString());
    }

    [Fact]
    public async Task Jobs_and_bare_pods_are_waited_for_too()
    {
        SkipWithoutK3s();
        var job = $"apiVersion: batch/v1\nkind: Job\nmetadata: {{ name: migrate }}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{ name: migrate, image: {_fixture.Image}, command: [sh, -c, 'sleep 2; echo migrated'] }}]\n";
        var pod = $"apiVersion: v1\nkind: Pod\nmetadata: {{ name: probe, labels: {{ app: probe }} }}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers: [{{ name: probe, image: {_fixture.Image}, command: [sleep, '3600'] }}]\n";

        var result = await Cluster.DeployAsync(Settings(Ns("jobs"), TimeSpan.FromMinutes(3), job, pod), Ct);

        var workloads = result.Objects.Where(o => o.Kind != "Namespace").ToList();
        Assert.Equal(["Job", "Pod"], workloads.Select(o => o.Kind));
        Assert.All(workloads, o => Assert.Equal(RolloutState.Ready, o.Rollout));
        Assert.Equal("Ready: 1 succeeded, 0 running, 0 failed", workloads[0].State);
        Assert.Equal("Ready: Running, ready", workloads[1].State);
    }

    [Fact]
    public async Task Diagnostics_on_demand_explain_every_stuck_pod()
    {
        SkipWithoutK3s();
        await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(Ns("ondemand"), TimeSpan.FromMinutes(3), Workload("crasher", "[sh, -c, 'echo no config here; exit 5']")),
            Ct));

        var bundle = await Cluster.CollectDiagnosticsAsync(Ct);

        // The cluster is shared by this class's tests, so other stuck pods may be explained beside this one.
        Assert.Contains(bundle.Summary, l => l.StartsWith("crasher-", StringComparison.Ordinal) && l.Contains("crash-looping (exit code 5): last log line: no config here", StringComparison.Ordinal));
        var nodes = await File.ReadAllTextAsync(Path.Combine(bundle.Directory, "nodes.txt"), Ct);
        Assert.Contains("Ready=True KubeletReady", nodes, StringComparison.Ordinal);
        _output.WriteLine(string.Join("\n", bundle.Summary));
    }

    private static DeploySettings Settings(string ns, TimeSpan timeout, params string[] manifests) => new()
    {
        InlineManifests = manifests,
        Namespace = ns,
        Timeout = timeout,
    };

    private static string Ns(string what) => $"kdt-{what}-{Guid.NewGuid().ToString("N")[..6]}";

    private string Workload(string name, string command, string? volumes = null, params string[] container) =>
        TestManifests.Deployment(name, _fixture.Image, command, volumes, container);

    private static void SkipWithoutK3s()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(RealClusterFixture.SkipReason);
        }
    }
}
