using System.Diagnostics;
using k8s;
using k8s.Models;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// Deploy's fail-fast table and every-failure report, Job runs and Job logs on a real k3s. Skipped with the reason
/// when KUBEDIND_K3S_BINARY is unset. (In CI, which has no k3s, <see cref="FailFastTableTests"/> shows the same table from pod states a test states to the fake API.)
/// </summary>
public sealed partial class RealClusterFailFastTests
{
    private readonly RealClusterFixture _fixture;
    private readonly ITestOutputHelper _output;

    public RealClusterFailFastTests(RealClusterFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private KubeDindCluster Cluster => _fixture.Cluster ?? throw new InvalidOperationException("no cluster");

    private static DeploySettings Settings(string ns, params string[] manifests) => new()
    {
        InlineManifests = manifests,
        Namespace = ns,
        Timeout = TimeSpan.FromMinutes(3),
    };

    private static string Ns(string what) => $"kdt-{what}-{Guid.NewGuid().ToString("N")[..6]}";

    private string Workload(string name, string command, string? volumes = null, params string[] container) =>
        TestManifests.Deployment(name, _fixture.Image, command, volumes, container);

    [Fact]
    public async Task Two_broken_workloads_are_both_named_in_one_deploy_failure()
    {
        SkipWithoutK3s();
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(Ns("two"), Workload("crasher", "[sh, -c, 'echo boom: no DATABASE_URL; exit 3']", null, TestManifests.NeverReady), TestManifests.Deployment("ghost", "localhost:5000/never-pushed:1")),
            Ct));

        Assert.Equal(2, ex.Diagnostics!.Summary.Count);
        Assert.Equal("ghost: image localhost:5000/never-pushed:1 not found — was it pushed?", ex.Diagnostics.Summary[0]);
        Assert.StartsWith("crasher: container app is crash-looping (exit code 3): last log line: boom: no DATABASE_URL", ex.Diagnostics.Summary[1], StringComparison.Ordinal);
        Assert.StartsWith("Deploy to ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("2 workloads failed", ex.Message, StringComparison.Ordinal);
        _output.WriteLine($"after {watch.Elapsed.TotalSeconds:0.0}s:\n{ex.Message}");
    }

    [Fact]
    public async Task A_storage_class_that_does_not_exist_and_a_missing_config_map_fail_fast_in_one_report()
    {
        SkipWithoutK3s();
        var ns = Ns("refs");
        var claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: fast }\nspec: { storageClassName: no-such-class, accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Mi } } }\n";
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(
                ns,
                claim,
                Workload("db", "[sleep, '3600']", volumes: "[{ name: data, persistentVolumeClaim: { claimName: fast } }]", container: "volumeMounts: [{ name: data, mountPath: /data }]"),
                Workload("web", "[sleep, '3600']", volumes: "[{ name: config, configMap: { name: web-config } }]", container: "volumeMounts: [{ name: config, mountPath: /config }]")),
            Ct));

        Assert.Equal(
            [
                $"db: PersistentVolumeClaim {ns}/fast asks for StorageClass no-such-class, which does not exist",
                $"web: ConfigMap {ns}/web-config (mounted as volume config) does not exist; add it to the manifests or mark the volume optional",
            ],
            ex.Diagnostics!.Summary.Select(l => l.Split(" (the cluster has", 2)[0]));
        _output.WriteLine($"failed after {watch.Elapsed.TotalSeconds:0.0}s: {ex.Message}");
    }

    [Fact]
    public async Task A_service_account_that_does_not_exist_fails_fast_instead_of_waiting_out_the_timeout()
    {
        SkipWithoutK3s();
        var ns = Ns("account");
        var web = $"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{ name: web }}\nspec:\n  selector: {{ matchLabels: {{ app: web }} }}\n  template:\n    metadata: {{ labels: {{ app: web }} }}\n    spec:\n      serviceAccountName: web-runner\n      containers: [{{ name: app, image: {_fixture.Image}, command: [sleep, '3600'] }}]\n";
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(Settings(ns, web), Ct));

        // The API refuses every pod of the ReplicaSet, so there is no pod to explain: without this the wait ran out its
        // timeout and the summary could only quote the ReplicaSet's last warning.
        Assert.Equal(
            $"web: ServiceAccount {ns}/web-runner (its pods' serviceAccountName) does not exist, so no pod can be created; add it to the manifests or fix the name",
            Assert.Single(ex.Diagnostics!.Summary));
        _output.WriteLine($"failed after {watch.Elapsed.TotalSeconds:0.0}s: {ex.Message}");
    }

    [Fact]
    public async Task A_job_whose_template_has_no_labels_is_summarised_through_its_live_selector()
    {
        SkipWithoutK3s();
        var job = $"apiVersion: batch/v1\nkind: Job\nmetadata: {{ name: migrate }}\nspec:\n  template:\n    spec:\n      restartPolicy: OnFailure\n      containers: [{{ name: migrate, image: {_fixture.Image}, command: [sh, -c, 'echo migration 7 failed; exit 2'] }}]\n";

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(Settings(Ns("job"), job), Ct));

        Assert.StartsWith("migrate: container migrate ", Assert.Single(ex.Diagnostics!.Summary), StringComparison.Ordinal);
        Assert.Contains("(exit code 2): last log line: migration 7 failed", ex.Diagnostics.Summary[0], StringComparison.Ordinal);
        _output.WriteLine(ex.Message);
    }

    [Fact]
    public async Task A_job_runs_to_completion_with_its_exit_code_and_logs()
    {
        SkipWithoutK3s();
        var ns = Ns("run");

        var ok = await Cluster.RunJobAsync(new JobRunSettings { Image = _fixture.Image, Command = ["sh", "-c", "echo migrating; echo done"], Name = "smoke", Namespace = ns }, Ct);
        var failed = await Cluster.RunJobAsync(new JobRunSettings { Image = _fixture.Image, Command = ["sh", "-c", "echo checking; echo 'health check failed' >&2; exit 4"], Name = "smoke", Namespace = ns }, Ct);
        var logs = await Cluster.ReadLogsAsync("Job", "smoke", ns, cancellationToken: Ct);

        Assert.Equal((true, 0, "migrating\ndone\n"), (ok.Succeeded, ok.ExitCode, ok.Output));
        Assert.Equal((false, 4), (failed.Succeeded, failed.ExitCode));
        // Both streams are in the log; their order is not: containerd copies stdout and stderr in two goroutines, so
        // under load the stderr line can be written to the log file first.
        Assert.Equal(["checking", "health check failed"], failed.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));
        Assert.Equal(failed.Output, logs.Text); // the second run replaced the first Job of the same name
        _output.WriteLine($"ok in {ok.Elapsed.TotalSeconds:0.0}s, failed in {failed.Elapsed.TotalSeconds:0.0}s");
    }

    [Fact]
    public async Task A_job_from_a_manifest_whose_image_is_missing_throws_naming_it()
    {
        SkipWithoutK3s();
        var job = "apiVersion: batch/v1\nkind: Job\nmetadata: { name: ghost }\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{ name: ghost, image: localhost:5000/never-pushed:2 }]\n";

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => Cluster.RunJobAsync(new JobRunSettings { InlineManifest = job, Namespace = Ns("ghost") }, Ct));

        Assert.Contains("ghost: image localhost:5000/never-pushed:2 not found — was it pushed?", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public async Task An_image_pull_refused_as_unauthorized_fails_fast_and_says_so()
    {
        SkipWithoutK3s();

        // What a private registry answers a pull without credentials: 401 with a Basic challenge (busybox httpd with a
        // password on every path); the cluster's containerd reaches it through the fixture's registries.yaml entry.
        var serve = await Cluster.ExecAsync(["sh", "-c", $"mkdir -p /tmp/kdt-private && printf '/:user:secret\\n' > /tmp/kdt-private.conf && busybox httpd -p {RealClusterFixture.PrivateRegistryPort} -c /tmp/kdt-private.conf -h /tmp/kdt-private"], null, Ct);
        Assert.True(serve.Succeeded, serve.FirstErrorLine);
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(Ns("auth"), TestManifests.Deployment("web", $"{RealClusterFixture.PrivateRegistry}/web:1")),
            Ct));

        _output.WriteLine($"failed after {watch.Elapsed.TotalSeconds:0.0}s (deploy timeout 180s): {ex.Message}");
        Assert.StartsWith($"web: image {RealClusterFixture.PrivateRegistry}/web:1 pull refused as unauthorized", Assert.Single(ex.Diagnostics!.Summary), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_crashing_statefulset_and_daemonset_are_summarised_through_their_live_selectors()
    {
        SkipWithoutK3s();
        var ns = Ns("sets");
        string Set(string kind, string name, string extra) => $$"""
            apiVersion: apps/v1
            kind: {{kind}}
            metadata: { name: {{name}} }
            spec:
            {{extra}}
              selector: { matchExpressions: [{ key: set, operator: In, values: [{{name}}] }] }
              template:
                metadata: { labels: { set: {{name}}, other: label } }
                spec:
                  terminationGracePeriodSeconds: 1
                  # Never Ready: a container that exits at once is Running for a moment, in which both sets could look rolled out.
                  containers: [{ name: app, image: {{_fixture.Image}}, command: [sh, -c, 'echo {{name}} cannot start; exit 5'], {{TestManifests.NeverReady}} }]
            """;

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, Set("StatefulSet", "db", "  serviceName: db\n  replicas: 1"), Set("DaemonSet", "agent", string.Empty)),
            Ct));

        _output.WriteLine(ex.Message);
        Assert.Equal(2, ex.Diagnostics!.Summary.Count);
        Assert.Contains(ex.Diagnostics.Summary, l => l.StartsWith("db: container app is crash-looping (exit code 5): last log line: db cannot start", StringComparison.Ordinal));
        Assert.Contains(ex.Diagnostics.Summary, l => l.StartsWith("agent: container app is crash-looping (exit code 5): last log line: agent cannot start", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Logs_of_a_workload_have_every_container_and_the_previous_instance_of_a_restarted_one()
    {
        SkipWithoutK3s();
        var ns = Ns("logs");
        var manifest = TestManifests.Deployment(
            "pair",
            _fixture.Image,
            "[sh, -c, 'echo app instance $(cat /proc/sys/kernel/random/uuid); exit 3']");
        manifest += $"        - {{ name: side, image: {_fixture.Image}, command: [sh, -c, 'echo side up; exec sleep 3600'] }}\n";
        await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(Settings(ns, manifest), Ct));

        // Deploy gave up on the crash loop, so app has restarted at least once: the log has its previous instance.
        var logs = await Cluster.ReadLogsAsync("Deployment", "pair", ns, cancellationToken: Ct);
        _output.WriteLine(logs.Text);

        Assert.Equal("side up\n", Assert.Single(logs.Containers, c => c.Container == "side").Text);
        var previous = Assert.Single(logs.Containers, c => c.Container == "app" && c.Previous);
        Assert.StartsWith("app instance ", previous.Text, StringComparison.Ordinal);
        Assert.Contains("(previous) <==", logs.Text, StringComparison.Ordinal);

        // Waiting in CrashLoopBackOff, app has no current instance (the kubelet would answer the previous log twice);
        // restarted meanwhile, its current instance is another one.
        if (logs.Containers.SingleOrDefault(c => c.Container == "app" && !c.Previous) is { } current)
        {
            Assert.NotEqual(previous.Text, current.Text);
        }
    }

    /// <summary>An env reference to a Secret that does not exist, and one to a key a ConfigMap does not have: CreateContainerConfigError, at once.</summary>
    [Fact]
    public async Task A_missing_env_reference_fails_fast_naming_the_secret_or_key()
    {
        SkipWithoutK3s();
        var ns = Ns("env");
        var configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: web-env }\ndata: { other: x }\n";
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(
                ns,
                configMap,
                Workload("api", "[sleep, '3600']", null, "env: [{ name: DB, valueFrom: { secretKeyRef: { name: api-secret, key: url } } }]"),
                Workload("web", "[sleep, '3600']", null, "env: [{ name: URL, valueFrom: { configMapKeyRef: { name: web-env, key: url } } }]")),
            Ct));

        _output.WriteLine($"failed after {watch.Elapsed.TotalSeconds:0.0}s (deploy timeout 180s): {ex.Message}");
        Assert.Equal(
            [
                "api: container app cannot start (CreateContainerConfigError): secret \"api-secret\" not found",
                $"web: container app cannot start (CreateContainerConfigError): couldn't find key url in ConfigMap {ns}/web-env",
            ],
            ex.Diagnostics!.Summary.Order(StringComparer.Ordinal));
    }

    /// <summary>A registry nothing listens on (a port of the cluster's own loopback): the pull's connection is refused.</summary>
    [Fact]
    public async Task An_image_whose_registry_is_unreachable_fails_fast_saying_so()
    {
        SkipWithoutK3s();
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(Ns("unreach"), TestManifests.Deployment("web", "127.0.0.1:5999/web:1")),
            Ct));

        _output.WriteLine($"failed after {watch.Elapsed.TotalSeconds:0.0}s (deploy timeout 180s): {ex.Message}");
        var cause = Assert.Single(ex.Diagnostics!.Summary);
        Assert.StartsWith("web: image 127.0.0.1:5999/web:1 could not be pulled: its registry is unreachable (Failed to pull image \"127.0.0.1:5999/web:1\": ", cause, StringComparison.Ordinal);
        Assert.EndsWith("connect: connection refused)", cause, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_image_reference_fails_fast_as_invalid()
    {
        SkipWithoutK3s();
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(Ns("badref"), TestManifests.Deployment("web", "localhost:5000/Bad:Name")),
            Ct));

        _output.WriteLine($"failed after {watch.Elapsed.TotalSeconds:0.0}s (deploy timeout 180s): {ex.Message}");
        Assert.Equal("web: image localhost:5000/Bad:Name is not a valid image reference — fix it in the manifest or DeploySettings.ImageRewrites", Assert.Single(ex.Diagnostics!.Summary));
    }

    [Fact]
    public async Task An_image_not_present_with_pull_policy_never_fails_fast()
    {
        SkipWithoutK3s();
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(Ns("never"), TestManifests.Deployment("web", "localhost:5000/never-loaded:1", null, null, "imagePullPolicy: Never")),
            Ct));

        _output.WriteLine($"failed after {watch.Elapsed.TotalSeconds:0.0}s (deploy timeout 180s): {ex.Message}");
        Assert.Equal(
            "web: image localhost:5000/never-loaded:1 is not on the node and its imagePullPolicy is Never (Container image \"localhost:5000/never-loaded:1\" is not present with pull policy of Never) — drop imagePullPolicy: Never so the kubelet pulls it (PushImage)",
            Assert.Single(ex.Diagnostics!.Summary));
    }

    [Fact]
    public async Task A_claim_that_does_not_exist_fails_fast_naming_it()
    {
        SkipWithoutK3s();
        var ns = Ns("noclaim");
        var watch = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, Workload("db", "[sleep, '3600']", volumes: "[{ name: data, persistentVolumeClaim: { claimName: nowhere } }]", container: "volumeMounts: [{ name: data, mountPath: /data }]")),
            Ct));

        _output.WriteLine($"failed after {watch.Elapsed.TotalSeconds:0.0}s (deploy timeout 180s): {ex.Message}");
        Assert.Equal($"db: PersistentVolumeClaim {ns}/nowhere (volume data) does not exist; add it to the manifests", Assert.Single(ex.Diagnostics!.Summary));
    }

    private static void SkipWithoutK3s()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(ClusterTestSupport.NoK3sReason);
        }
    }
}
