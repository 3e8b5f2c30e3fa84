using System.Diagnostics;
using KubeDind.Deploy;
using KubeDind.Tests.Fakes;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// The deploy step's fail-fast table (<c>PermanentFailures</c>) in CI, which has no k3s: each permanent state is a pod
/// status (with the kubelet's events) the test states to <see cref="FakeKubernetesApi"/>, copied from what a real k3s
/// shows; the fake simulates nothing. The deploy must fail as a <see cref="RolloutState.Failed"/> rollout, not a
/// timeout, long before its 2-minute timeout, with the one-line cause. Each test names its real-k3s counterpart.
/// </summary>
public sealed class FailFastTableTests : IAsyncLifetime
{
    private const string Ns = "shop";
    private static readonly TimeSpan DeployTimeout = TimeSpan.FromMinutes(2);

    private readonly FakeKubernetesApi _fake = new();
    private readonly string _artifacts = Path.Combine(Path.GetTempPath(), "kdt-failfast-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ITestOutputHelper _output;

    public FailFastTableTests(ITestOutputHelper output) => _output = output;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await _fake.DisposeAsync();
        if (Directory.Exists(_artifacts))
        {
            Directory.Delete(_artifacts, recursive: true);
        }
    }

    /// <summary>
    /// Container states that fail at once. Real-k3s counterparts: image not found and crash loop in
    /// RealClusterFailFastTests.Two_broken_workloads_are_both_named_in_one_deploy_failure, unauthorized in
    /// RealClusterFailFastTests.An_image_pull_refused_as_unauthorized_fails_fast_and_says_so; a missing env reference
    /// (CreateContainerConfigError) has none yet.
    /// </summary>
    [Theory]
    [InlineData("image not found", "web: image localhost:5000/web:1 not found — was it pushed?")]
    [InlineData("unauthorized", "web: image localhost:5000/web:1 pull refused as unauthorized — push it to the cluster's registry (PushImage) or give the pod imagePullSecrets for its registry")]
    [InlineData("crash loop", "web: container app is crash-looping (exit code 3): last log line: boom: no DATABASE_URL")]
    [InlineData("missing env reference", "web: container app cannot start (CreateContainerConfigError): configmap \"web-env\" not found")]
    public async Task A_container_state_that_waiting_cannot_fix_fails_the_deploy_at_once_with_its_cause(string state, string cause)
    {
        _fake.Pods["web"] = state switch
        {
            "image not found" => FakePods.PullFailed("app", "localhost:5000/web:1", "failed to resolve reference \"localhost:5000/web:1\": localhost:5000/web:1: not found"),
            "unauthorized" => FakePods.PullFailed("app", "localhost:5000/web:1", "failed to resolve reference \"localhost:5000/web:1\": pulling from host localhost:5000 failed with status code [manifests 1]: 401 Unauthorized"),
            "crash loop" => FakePods.CrashLoop("app", 3, "starting\nboom: no DATABASE_URL\n"),
            _ => FakePods.Waiting("app", "CreateContainerConfigError", "configmap \"web-env\" not found"),
        };

        var (ex, elapsed) = await DeployFailingAsync(TestManifests.Deployment("web", "localhost:5000/web:1"));

        Assert.Equal(cause, Assert.Single(ex.Diagnostics!.Summary));
        Assert.Equal(RolloutState.Failed, Assert.Single(ex.Result.Objects, o => o.Kind == "Deployment").Rollout);
        Assert.InRange(elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        _output.WriteLine($"{state}: failed after {elapsed.TotalSeconds:0.0}s (deploy timeout {DeployTimeout.TotalSeconds:0}s): {ex.Message}");
    }

    /// <summary>
    /// A pod that mounts a ConfigMap or Secret that does not exist stays ContainerCreating; it fails once that held for
    /// FailFastAfter (5 s). Real-k3s counterparts: RealClusterFailFastTests.A_storage_class_that_does_not_exist_and_a_missing_config_map_fail_fast_in_one_report
    /// (ConfigMap), RealClusterParityTests.A_mounted_secret_that_does_not_exist_fails_fast (Secret).
    /// </summary>
    [Theory]
    [InlineData("configMap: { name: web-config }", "configmap \"web-config\" not found", "web: ConfigMap shop/web-config (mounted as volume config) does not exist; add it to the manifests or mark the volume optional")]
    [InlineData("secret: { secretName: web-config }", "secret \"web-config\" not found", "web: Secret shop/web-config (mounted as volume config) does not exist; add it to the manifests or mark the volume optional")]
    public async Task A_mounted_config_map_or_secret_that_does_not_exist_fails_fast_naming_it(string source, string mountError, string cause)
    {
        _fake.Pods["web"] = FakePods.MountFailing("app", "config", mountError);

        var (ex, elapsed) = await DeployFailingAsync(Mounting("web", "config", source));

        Assert.Equal(cause, Assert.Single(ex.Diagnostics!.Summary));
        Assert.InRange(elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        _output.WriteLine($"failed after {elapsed.TotalSeconds:0.0}s (deploy timeout {DeployTimeout.TotalSeconds:0}s): {ex.Message}");
    }

    /// <summary>
    /// Must show: a PVC with no StorageClass fails in under 30 s with its cause. The fake serves no StorageClass and no
    /// PersistentVolume, and the claim no status (never Bound). Real-k3s counterpart:
    /// RealClusterFailFastTests.A_claim_with_no_storage_class_to_bind_and_no_default_fails_fast_with_its_cause.
    /// </summary>
    [Fact]
    public async Task A_claim_with_no_storage_class_and_nothing_to_bind_it_fails_fast_with_its_cause()
    {
        _fake.Pods["db"] = FakePods.Unschedulable("0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims.");

        var (ex, elapsed) = await DeployFailingAsync(Claim("data", null), Mounting("db", "data", "persistentVolumeClaim: { claimName: data }"));

        Assert.Equal(
            "db: PersistentVolumeClaim shop/data names no StorageClass and the cluster has no default StorageClass nor a PersistentVolume to bind it to (the cluster has none); set storageClassName or create a PersistentVolume",
            Assert.Single(ex.Diagnostics!.Summary));
        Assert.InRange(elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        _output.WriteLine($"failed after {elapsed.TotalSeconds:0.0}s (deploy timeout {DeployTimeout.TotalSeconds:0}s): {ex.Message}");
    }

    /// <summary>
    /// Must show: two broken workloads get both causes in one Deploy failure, beside a healthy one that still rolls
    /// out: a claim naming a StorageClass that does not exist, and an image that was never pushed. Real-k3s counterparts:
    /// RealClusterFailFastTests.Two_broken_workloads_are_both_named_in_one_deploy_failure and
    /// RealClusterFailFastTests.A_storage_class_that_does_not_exist_and_a_missing_config_map_fail_fast_in_one_report.
    /// </summary>
    [Fact]
    public async Task Two_broken_workloads_get_both_causes_in_one_deploy_failure()
    {
        _fake.Pods["db"] = FakePods.Unschedulable("0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims.");
        _fake.Pods["ghost"] = FakePods.PullFailed("app", "localhost:5000/never-pushed:1", "failed to resolve reference \"localhost:5000/never-pushed:1\": localhost:5000/never-pushed:1: not found");

        var (ex, elapsed) = await DeployFailingAsync(
            Claim("fast", "no-such-class"),
            Mounting("db", "data", "persistentVolumeClaim: { claimName: fast }"),
            TestManifests.Deployment("ghost", "localhost:5000/never-pushed:1"),
            TestManifests.Deployment("web", "localhost:5000/web:1"));

        Assert.Equal(
            [
                "db: PersistentVolumeClaim shop/fast asks for StorageClass no-such-class, which does not exist (the cluster has none); fix storageClassName",
                "ghost: image localhost:5000/never-pushed:1 not found — was it pushed?",
            ],
            ex.Diagnostics!.Summary);
        Assert.StartsWith("Deploy to kdt-fake: 2 workloads failed; diagnostics in ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith(":\n  " + string.Join("\n  ", ex.Diagnostics.Summary), ex.Message, StringComparison.Ordinal);
        Assert.Equal(
            [RolloutState.Failed, RolloutState.Failed, RolloutState.Ready],
            ex.Result.Objects.Where(o => o.Kind == "Deployment").OrderBy(o => o.Name, StringComparer.Ordinal).Select(o => o.Rollout));
        Assert.InRange(elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        _output.WriteLine($"failed after {elapsed.TotalSeconds:0.0}s (deploy timeout {DeployTimeout.TotalSeconds:0}s):\n{ex.Message}");
    }

    private async Task<(DeployFailedException Exception, TimeSpan Elapsed)> DeployFailingAsync(params string[] manifests)
    {
        using var client = _fake.CreateClient();
        var context = new DeployContext { ClusterName = "kdt-fake", ArtifactsDirectory = _artifacts };
        var settings = new DeploySettings { InlineManifests = manifests, Namespace = Ns, Timeout = DeployTimeout, PollInterval = TimeSpan.FromMilliseconds(200) };
        var watch = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, settings, context, TestContext.Current.CancellationToken));
        return (ex, watch.Elapsed);
    }

    /// <summary>Deployment <paramref name="name"/> mounting volume <paramref name="volume"/> from <paramref name="source"/> (a YAML flow entry).</summary>
    private static string Mounting(string name, string volume, string source) =>
        TestManifests.Deployment(name, "localhost:5000/web:1", "[sleep, '3600']", $"[{{ name: {volume}, {source} }}]", $"volumeMounts: [{{ name: {volume}, mountPath: /{volume} }}]");

    private static string Claim(string name, string? storageClass) =>
        $"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{ name: {name} }}\nspec: {{ {(storageClass is null ? string.Empty : $"storageClassName: {storageClass}, ")}accessModes: [ReadWriteOnce], resources: {{ requests: {{ storage: 1Mi }} }} }}\n";
}
