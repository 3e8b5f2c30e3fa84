using System.Diagnostics;
using KubeDind.Deploy;
using KubeDind.Tests.Fakes;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// The deploy step's fail-fast table (<c>PermanentFailures</c>) in CI, which has no k3s: each permanent state is a pod
/// status (with the kubelet's events) the test states to <see cref="FakeKubernetesApi"/> through
/// <see cref="FakePods.State"/>, copied from what a real k3s shows; the fake simulates nothing. The deploy must fail as
/// a <see cref="RolloutState.Failed"/> rollout, not a timeout, long before its 2-minute timeout, with the one-line
/// cause. Each test names its real-k3s counterpart.
/// </summary>
public sealed class FailFastTableTests : IAsyncLifetime
{
    private const string Ns = "shop";

    // The kubelet's (k3s v1.21, containerd 1.4) words for each state, as its waiting message and events carry them.
    private const string UnreachableError = "failed to resolve reference \"127.0.0.1:5999/web:1\": failed to do request: Head \"https://127.0.0.1:5999/v2/web/manifests/1\": dial tcp 127.0.0.1:5999: connect: connection refused";
    private const string UnreachablePull = "Failed to pull image \"127.0.0.1:5999/web:1\": rpc error: code = Unknown desc = failed to pull and unpack image \"127.0.0.1:5999/web:1\": " + UnreachableError;
    private const string InvalidImage = "Failed to apply default image tag \"localhost:5000/Bad:Name\": couldn't parse image reference \"localhost:5000/Bad:Name\": invalid reference format: repository name must be lowercase";
    private const string NeverPull = "Container image \"localhost:5000/web:1\" is not present with pull policy of Never";
    private const string CreateError = "failed to generate container \"5d1f0c3e\" spec: failed to apply OCI options: failed to mkdir \"/var/lib/kubelet/pods/web/volumes/data\": mkdir /var/lib/kubelet/pods/web/volumes/data: read-only file system";
    private const string RunError = "failed to create containerd task: OCI runtime create failed: container_linux.go:367: starting container process caused: exec: \"serve\": executable file not found in $PATH: unknown";
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
    /// Container states that fail at once, with the kubelet's (k3s v1.21) waiting reason, message and events. Real-k3s
    /// counterparts (RealClusterFailFastTests): image not found and crash loop in Two_broken_workloads_are_both_named_in_one_deploy_failure,
    /// unauthorized in An_image_pull_refused_as_unauthorized_fails_fast_and_says_so, registry unreachable in
    /// An_image_whose_registry_is_unreachable_fails_fast_saying_so, missing env reference in
    /// A_missing_env_reference_fails_fast_naming_the_secret_or_key, invalid image name in An_invalid_image_reference_fails_fast_as_invalid,
    /// never pull in An_image_not_present_with_pull_policy_never_fails_fast. CreateContainerError: none — it takes a
    /// runtime-level fault (containerd failing to build the container's spec) that no manifest here produces cheaply.
    /// RunContainerError: none — on k3s v1.21 a container that cannot start (a command not in the image) shows it only
    /// for one sync before CrashLoopBackOff, so which one a real poll sees is a race.
    /// </summary>
    [Theory]
    [InlineData("image not found", "web: image localhost:5000/web:1 not found — was it pushed?")]
    [InlineData("unauthorized", "web: image localhost:5000/web:1 pull refused as unauthorized — push it to the cluster's registry (PushImage) or give the pod imagePullSecrets for its registry")]
    [InlineData("crash loop", "web: container app is crash-looping (exit code 3): last log line: boom: no DATABASE_URL")]
    [InlineData("missing env reference", "web: container app cannot start (CreateContainerConfigError): configmap \"web-env\" not found")]
    [InlineData("missing env key", "web: container app cannot start (CreateContainerConfigError): couldn't find key url in ConfigMap shop/web-env")]
    [InlineData("registry unreachable", "web: image 127.0.0.1:5999/web:1 could not be pulled: its registry is unreachable (" + UnreachablePull + ")")]
    [InlineData("invalid image name", "web: image localhost:5000/Bad:Name is not a valid image reference — fix it in the manifest or DeploySettings.ImageRewrites")]
    [InlineData("never pull", "web: image localhost:5000/web:1 is not on the node and its imagePullPolicy is Never (Container image \"localhost:5000/web:1\" is not present with pull policy of Never) — drop imagePullPolicy: Never so the kubelet pulls it (PushImage)")]
    [InlineData("create container error", "web: container app cannot start (CreateContainerError): " + CreateError)]
    [InlineData("run container error", "web: container app cannot start (RunContainerError): " + RunError)]
    public async Task A_container_state_that_waiting_cannot_fix_fails_the_deploy_at_once_with_its_cause(string state, string cause)
    {
        var image = state switch
        {
            "registry unreachable" => "127.0.0.1:5999/web:1",
            "invalid image name" => "localhost:5000/Bad:Name",
            _ => "localhost:5000/web:1",
        };
        var web = TestManifests.Deployment("web", image, null, null, state == "never pull" ? ["imagePullPolicy: Never"] : []);
        FakePods.State(_fake, Ns, web, state switch
        {
            "image not found" => FakePods.PullFailed("app", image, "failed to resolve reference \"localhost:5000/web:1\": localhost:5000/web:1: not found"),
            "unauthorized" => FakePods.PullFailed("app", image, "failed to resolve reference \"localhost:5000/web:1\": pulling from host localhost:5000 failed with status code [manifests 1]: 401 Unauthorized"),
            "registry unreachable" => FakePods.PullFailed("app", image, UnreachableError),
            "crash loop" => FakePods.CrashLoop("app", 3, "starting\nboom: no DATABASE_URL\n"),
            "missing env reference" => FakePods.Waiting("app", "CreateContainerConfigError", "configmap \"web-env\" not found", "Pending", FakePods.Event("Warning", "Failed", "Error: configmap \"web-env\" not found")),
            "missing env key" => FakePods.Waiting("app", "CreateContainerConfigError", "couldn't find key url in ConfigMap shop/web-env", "Pending", FakePods.Event("Warning", "Failed", "Error: couldn't find key url in ConfigMap shop/web-env")),
            "invalid image name" => FakePods.Waiting("app", "InvalidImageName", InvalidImage, "Pending", FakePods.Event("Warning", "InspectFailed", InvalidImage), FakePods.Event("Warning", "Failed", "Error: InvalidImageName")),
            "never pull" => FakePods.Waiting("app", "ErrImageNeverPull", NeverPull, "Pending", FakePods.Event("Warning", "ErrImageNeverPull", NeverPull), FakePods.Event("Warning", "Failed", "Error: ErrImageNeverPull")),
            "create container error" => FakePods.Waiting("app", "CreateContainerError", CreateError, "Pending", FakePods.Event("Warning", "Failed", "Error: " + CreateError)),
            _ => FakePods.Waiting("app", "RunContainerError", RunError, "Running", FakePods.Event("Warning", "Failed", "Error: " + RunError)),
        });

        var (ex, elapsed) = await DeployFailingAsync(web);

        Assert.Equal(cause, Assert.Single(ex.Diagnostics!.Summary));
        Assert.Equal(RolloutState.Failed, Assert.Single(ex.Result.Objects, o => o.Kind == "Deployment").Rollout);
        Assert.InRange(elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        _output.WriteLine($"{state}: failed after {elapsed.TotalSeconds:0.0}s (deploy timeout {DeployTimeout.TotalSeconds:0}s): {ex.Message}");
    }

    /// <summary>
    /// A pod that mounts a ConfigMap or Secret that does not exist stays ContainerCreating; it fails once that held for
    /// FailFastAfter (5 s). Real-k3s counterparts: RealClusterFailFastTests.A_storage_class_that_does_not_exist_and_a_missing_config_map_fail_fast_in_one_report
    /// (ConfigMap), RealClusterParityTests.A_mounted_secret_that_does_not_exist_fails_fast (Secret); a projected source:
    /// none (the same lookup as a plain Secret volume, reached through the projected volume's sources).
    /// </summary>
    [Theory]
    [InlineData("configMap: { name: web-config }", "configmap \"web-config\" not found", "web: ConfigMap shop/web-config (mounted as volume config) does not exist; add it to the manifests or mark the volume optional")]
    [InlineData("secret: { secretName: web-config }", "secret \"web-config\" not found", "web: Secret shop/web-config (mounted as volume config) does not exist; add it to the manifests or mark the volume optional")]
    [InlineData("projected: { sources: [{ secret: { name: web-config } }] }", "secret \"web-config\" not found", "web: Secret shop/web-config (mounted as volume config) does not exist; add it to the manifests or mark the volume optional")]
    public async Task A_mounted_config_map_or_secret_that_does_not_exist_fails_fast_naming_it(string source, string mountError, string cause)
    {
        var web = Mounting("web", "config", source);
        FakePods.State(_fake, Ns, web, FakePods.MountFailing("app", "config", mountError));

        var (ex, elapsed) = await DeployFailingAsync(web);

        Assert.Equal(cause, Assert.Single(ex.Diagnostics!.Summary));
        Assert.InRange(elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        _output.WriteLine($"failed after {elapsed.TotalSeconds:0.0}s (deploy timeout {DeployTimeout.TotalSeconds:0}s): {ex.Message}");
    }

    /// <summary>
    /// Must show: a PVC with no StorageClass fails in under 30 s with its cause. The fake serves no StorageClass and no
    /// PersistentVolume, and the claim no status (never Bound). Real-k3s counterpart:
    /// DisabledComponentTests.Dns_and_storage_turned_off_by_K3sArgs_pass_their_gates_at_once_and_a_claim_with_nothing_to_bind_fails_deploy_fast.
    /// </summary>
    [Fact]
    public async Task A_claim_with_no_storage_class_and_nothing_to_bind_it_fails_fast_with_its_cause()
    {
        var db = Mounting("db", "data", "persistentVolumeClaim: { claimName: data }");
        FakePods.State(_fake, Ns, db, FakePods.Unschedulable("0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims."));

        var (ex, elapsed) = await DeployFailingAsync(Claim("data", null), db);

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
        var db = Mounting("db", "data", "persistentVolumeClaim: { claimName: fast }");
        var ghost = TestManifests.Deployment("ghost", "localhost:5000/never-pushed:1");
        var web = TestManifests.Deployment("web", "localhost:5000/web:1");
        FakePods.State(_fake, Ns, db, FakePods.Unschedulable("0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims."));
        FakePods.State(_fake, Ns, ghost, FakePods.PullFailed("app", "localhost:5000/never-pushed:1", "failed to resolve reference \"localhost:5000/never-pushed:1\": localhost:5000/never-pushed:1: not found"));
        FakePods.State(_fake, Ns, web, FakePods.Ready());

        var (ex, elapsed) = await DeployFailingAsync(Claim("fast", "no-such-class"), db, ghost, web);

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

    /// <summary>
    /// A claim that does not exist leaves the pod unschedulable; a claim with storageClassName "" binds only a pre-made
    /// PersistentVolume with no class, and the fake serves none. Both fail once that held for FailFastAfter (5 s).
    /// Real-k3s counterparts: RealClusterFailFastTests.A_claim_that_does_not_exist_fails_fast_naming_it; storageClassName
    /// "": none — the shared real cluster's local-path volumes would have to be ruled out first, and the check is the same
    /// listing of PersistentVolumes the no-default row (DisabledComponentTests, on a cluster with local-storage off) exercises.
    /// </summary>
    [Theory]
    [InlineData("missing claim", "db: PersistentVolumeClaim shop/data (volume data) does not exist; add it to the manifests")]
    [InlineData("empty storage class", "db: PersistentVolumeClaim shop/data has storageClassName \"\" (pre-made volumes only) and no PersistentVolume is available to bind it to; create one or name a StorageClass (the cluster has none)")]
    public async Task A_claim_that_does_not_exist_or_can_only_bind_a_missing_volume_fails_fast_with_its_cause(string state, string cause)
    {
        var scheduling = state == "missing claim" ? "0/1 nodes are available: 1 persistentvolumeclaim \"data\" not found." : "0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims.";
        var db = Mounting("db", "data", "persistentVolumeClaim: { claimName: data }");
        FakePods.State(_fake, Ns, db, FakePods.Unschedulable(scheduling));

        var (ex, elapsed) = state == "missing claim" ? await DeployFailingAsync(db) : await DeployFailingAsync(Claim("data", "\"\""), db);

        Assert.Equal(cause, Assert.Single(ex.Diagnostics!.Summary));
        Assert.InRange(elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        _output.WriteLine($"{state}: failed after {elapsed.TotalSeconds:0.0}s (deploy timeout {DeployTimeout.TotalSeconds:0}s): {ex.Message}");
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
