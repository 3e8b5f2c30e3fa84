using System.Diagnostics;
using KubeDind.Deploy;
using KubeDind.Tests.Fakes;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// Deploy reports every failing workload at once and fails fast on states waiting cannot fix, against
/// <see cref="FakeKubernetesApi"/> (a fake API server, not a cluster); <see cref="RealClusterFailFastTests"/> shows the same on k3s.
/// </summary>
public sealed class FailFastTests : IAsyncLifetime
{
    private readonly FakeKubernetesApi _fake = new();
    private readonly string _artifacts = Path.Combine(Path.GetTempPath(), "kdt-failfast-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ITestOutputHelper _output;

    public FailFastTests(ITestOutputHelper output) => _output = output;

    public ValueTask InitializeAsync()
    {
        _fake.AddNode();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _fake.DisposeAsync();
        if (Directory.Exists(_artifacts))
        {
            Directory.Delete(_artifacts, recursive: true);
        }
    }

    private DeployContext Context => new() { ClusterName = "kdt-fake", ArtifactsDirectory = _artifacts };

    private static DeploySettings Settings(params string[] manifests) => new()
    {
        InlineManifests = manifests,
        Namespace = "shop",
        Timeout = TimeSpan.FromSeconds(60),
        PollInterval = TimeSpan.FromMilliseconds(50),
        FailFastAfter = TimeSpan.FromMilliseconds(300),
    };

    [Fact]
    public async Task Two_broken_workloads_are_both_named_in_one_failure_most_actionable_first()
    {
        _fake.Behavior["web"] = FakePodBehavior.CrashLoop;
        _fake.Behavior["api"] = FakePodBehavior.MissingImage;
        using var client = _fake.CreateClient();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, Settings(TestManifests.Deployment("web", "web:1"), TestManifests.Deployment("api", "api:1")), Context, TestContext.Current.CancellationToken));

        Assert.Equal(
            ["api: image api:1 not found — was it pushed?", "web: container app is crash-looping (exit code 1): last log line: panic: config key 'listen' is missing"],
            ex.Diagnostics!.Summary);
        var lines = ex.Message.Split('\n');
        Assert.Equal($"Deploy to kdt-fake: 2 workloads failed; diagnostics in {ex.Diagnostics.Directory}:", lines[0]);
        Assert.Equal(["  api: image api:1 not found — was it pushed?", "  web: container app is crash-looping (exit code 1): last log line: panic: config key 'listen' is missing"], lines[1..]);
        Assert.All(ex.Result.Objects.Where(o => o.Kind == "Deployment"), o => Assert.Equal(RolloutState.Failed, o.Rollout));
        Assert.Single(Directory.GetDirectories(Path.Combine(_artifacts, "kdt-fake"))); // one bundle for both
        _output.WriteLine(ex.Message);
    }

    [Fact]
    public async Task A_failing_workload_does_not_stop_the_wait_for_a_healthy_one()
    {
        _fake.Behavior["api"] = FakePodBehavior.MissingImage;
        using var client = _fake.CreateClient();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, Settings(TestManifests.Deployment("api", "api:1"), TestManifests.Deployment("web", "web:1")), Context, TestContext.Current.CancellationToken));

        Assert.Equal(RolloutState.Ready, ex.Result.Objects.Single(o => o.Name == "web").Rollout);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public async Task A_claim_with_no_storage_class_and_no_default_fails_fast_with_its_cause()
    {
        using var client = _fake.CreateClient();
        var claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: data }\nspec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Gi } } }\n";
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, Settings(claim, TestManifests.Deployment("db", "db:1", volumes: "[{ name: data, persistentVolumeClaim: { claimName: data } }]", container: "volumeMounts: [{ name: data, mountPath: /data }]")), Context, TestContext.Current.CancellationToken));

        Assert.Equal("db: PersistentVolumeClaim shop/data names no StorageClass and the cluster has no default StorageClass nor a PersistentVolume to bind it to (the cluster has none); set storageClassName or create a PersistentVolume", Assert.Single(ex.Diagnostics!.Summary));
        _output.WriteLine($"failed after {watch.Elapsed.TotalSeconds:0.0}s (timeout 60s): {ex.Message}");
    }

    [Fact]
    public async Task A_claim_naming_a_storage_class_that_does_not_exist_fails_fast()
    {
        using var client = _fake.CreateClient();
        var storageClass = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: { name: slow }\nprovisioner: example.com/slow\n";
        var claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: data }\nspec: { storageClassName: fast-ssd, accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Gi } } }\n";

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, Settings(storageClass, claim, TestManifests.Deployment("db", "db:1", volumes: "[{ name: data, persistentVolumeClaim: { claimName: data } }]", container: "volumeMounts: [{ name: data, mountPath: /data }]")), Context, TestContext.Current.CancellationToken));

        Assert.Equal("db: PersistentVolumeClaim shop/data asks for StorageClass fast-ssd, which does not exist (the cluster has slow); fix storageClassName", Assert.Single(ex.Diagnostics!.Summary));
    }

    [Fact]
    public async Task A_mounted_config_map_that_does_not_exist_fails_fast()
    {
        using var client = _fake.CreateClient();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, Settings(TestManifests.Deployment("web", "web:1", volumes: "[{ name: config, configMap: { name: missing } }]", container: "volumeMounts: [{ name: config, mountPath: /config }]")), Context, TestContext.Current.CancellationToken));

        Assert.Equal("web: ConfigMap shop/missing (mounted as volume config) does not exist; add it to the manifests or mark the volume optional", Assert.Single(ex.Diagnostics!.Summary));
    }

    [Fact]
    public async Task A_mounted_secret_that_does_not_exist_fails_fast()
    {
        using var client = _fake.CreateClient();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, Settings(TestManifests.Deployment("web", "web:1", volumes: "[{ name: tls, secret: { secretName: web-tls } }]", container: "volumeMounts: [{ name: tls, mountPath: /tls }]")), Context, TestContext.Current.CancellationToken));

        Assert.Equal("web: Secret shop/web-tls (mounted as volume tls) does not exist; add it to the manifests or mark the volume optional", Assert.Single(ex.Diagnostics!.Summary));
    }

    [Fact]
    public async Task An_image_pull_refused_as_unauthorized_fails_fast_and_says_so()
    {
        // A registry that asks for credentials is not something the offline k3s here can show: the fake stands in.
        _fake.Behavior["web"] = FakePodBehavior.Unauthorized;
        using var client = _fake.CreateClient();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, Settings(TestManifests.Deployment("web", "registry.example/web:1")), Context, TestContext.Current.CancellationToken));

        Assert.StartsWith("web: image registry.example/web:1 pull refused as unauthorized", Assert.Single(ex.Diagnostics!.Summary), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_whose_template_has_no_labels_is_summarised_through_its_live_selector()
    {
        _fake.Behavior["migrate"] = FakePodBehavior.CrashLoop;
        using var client = _fake.CreateClient();
        var job = "apiVersion: batch/v1\nkind: Job\nmetadata: { name: migrate }\nspec:\n  template:\n    spec:\n      restartPolicy: OnFailure\n      containers: [{ name: migrate, image: migrate:1 }]\n";

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, Settings(job), Context, TestContext.Current.CancellationToken));

        Assert.Equal("migrate: container migrate is crash-looping (exit code 1): last log line: panic: config key 'listen' is missing", Assert.Single(ex.Diagnostics!.Summary));
    }

    [Fact]
    public async Task Without_cluster_DNS_the_log_says_why_name_lookups_are_slow_and_with_it_says_nothing()
    {
        var log = new Lines();
        using var client = _fake.CreateClient();
        var settings = Settings(TestManifests.Deployment("web", "web:1"));

        await DeployStep.RunAsync(client, settings, Context with { Log = log }, TestContext.Current.CancellationToken);
        _fake.AddClusterDns();
        await DeployStep.RunAsync(client, settings, Context with { Log = log }, TestContext.Current.CancellationToken);

        var warning = Assert.Single(log.All, l => l.Contains("DNS", StringComparison.Ordinal));
        Assert.Equal("Deploy to kdt-fake: no cluster DNS answers (kube-system/kube-dns does not exist; k3s's CoreDNS stays off without its air-gap images), so every name lookup in a pod waits ~5 s for the resolver to time out; give the cluster k3s's air-gap images, or reach Services by the *_SERVICE_HOST environment variables.", warning);
    }

    private sealed class Lines : KubeDind.Logging.IKubeDindLog
    {
        public List<string> All { get; } = [];

        public void Write(KubeDind.Logging.KubeDindLogLevel level, string message)
        {
            lock (All)
            {
                All.Add(message);
            }
        }
    }
}
