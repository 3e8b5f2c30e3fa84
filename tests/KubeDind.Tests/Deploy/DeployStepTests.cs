using KubeDind.Deploy;
using KubeDind.Logging;
using KubeDind.Tests.Fakes;

namespace KubeDind.Tests.Deploy;

/// <summary>The deploy step against <see cref="FakeKubernetesApi"/> (a fake API server, not a cluster).</summary>
public sealed class DeployStepTests : IAsyncLifetime
{
    private readonly FakeKubernetesApi _fake = new();
    private readonly RecordingLog _log = new();
    private readonly string _artifacts = Path.Combine(Path.GetTempPath(), "kdt-deploy-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ITestOutputHelper _output;

    public DeployStepTests(ITestOutputHelper output) => _output = output;

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

    private DeployContext Context => new()
    {
        ClusterName = "kdt-fake",
        ArtifactsDirectory = _artifacts,
        Log = _log,
        PushedImages = new Dictionary<string, string> { ["web:1"] = "localhost:5000/web:1" },
        ExtraLogs = _ => Task.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["k3s"] = "k3s log line\n", ["dockerd"] = "dockerd log line\n" }),
    };

    private static DeploySettings AppSettings(TimeSpan? timeout = null) => new()
    {
        Manifests = ["app"],
        BaseDirectory = ManifestFiles.Root,
        Namespace = "shop",
        ImageRewrites = new Dictionary<string, string> { ["busybox"] = "localhost:5000/busybox" },
        Timeout = timeout ?? TimeSpan.FromSeconds(20),
        PollInterval = TimeSpan.FromMilliseconds(50),
    };

    [Fact]
    public async Task A_successful_rollout_applies_everything_server_side_in_order_and_reports_each_object()
    {
        using var client = _fake.CreateClient();

        var result = await DeployStep.RunAsync(client, AppSettings(), Context, TestContext.Current.CancellationToken);

        Assert.True(result.Succeeded);
        Assert.Equal(
            ["/api/v1/namespaces/shop", "/api/v1/namespaces/shop/configmaps/web-config", "/api/v1/namespaces/shop/services/web", "/apis/apps/v1/namespaces/shop/deployments/web"],
            _fake.Applied);
        Assert.All(_fake.Requests.Where(r => r.Method == "PATCH"), r =>
        {
            Assert.Equal("application/apply-patch+yaml", r.ContentType);
            Assert.Contains("fieldManager=kubedind", r.PathAndQuery, StringComparison.Ordinal);
            Assert.Contains("force=true", r.PathAndQuery, StringComparison.Ordinal);
        });
        Assert.All(result.Objects, o => Assert.True(o.Created));
        var web = result.Objects.Single(o => o.Kind == "Deployment");
        Assert.Equal(RolloutState.Ready, web.Rollout);
        Assert.Equal("Ready: 2/2 updated, 2/2 available", web.State);
        Assert.Equal("localhost:5000/web:1", (string?)_fake.Get("/apis/apps/v1/namespaces/shop/deployments/web")!["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]);
        Assert.Contains(_log.Lines, l => l.Contains("Deployment shop/web: rolled out", StringComparison.Ordinal));
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public async Task Re_applying_updates_instead_of_failing()
    {
        using var client = _fake.CreateClient();
        await DeployStep.RunAsync(client, AppSettings(), Context, TestContext.Current.CancellationToken);

        var context = Context with { PushedImages = new Dictionary<string, string> { ["web:1"] = "localhost:5000/web:2" } };
        var result = await DeployStep.RunAsync(client, AppSettings(), context, TestContext.Current.CancellationToken);

        Assert.All(result.Objects, o => Assert.False(o.Created));
        var live = _fake.Get("/apis/apps/v1/namespaces/shop/deployments/web")!;
        Assert.Equal(2, (long)live["metadata"]!["generation"]!);
        Assert.Equal("localhost:5000/web:2", (string?)live["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]);
        Assert.Contains(_log.Lines, l => l.Contains("Deployment shop/web configured", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_crash_looping_pod_fails_the_deploy_with_a_bundle_naming_the_cause()
    {
        _fake.Behavior["web"] = FakePodBehavior.CrashLoop;
        using var client = _fake.CreateClient();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, AppSettings(), Context, TestContext.Current.CancellationToken));

        Assert.Equal("web: container app is crash-looping (exit code 1): last log line: panic: config key 'listen' is missing", ex.Diagnostics!.Summary[0]);
        Assert.Contains("Deployment shop/web failed: web: container app is crash-looping", ex.Message, StringComparison.Ordinal);
        Assert.Contains(ex.Diagnostics.Directory, ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.StartsWith(Path.Combine(_artifacts, "kdt-fake", "diagnostics-"), ex.Diagnostics.Directory, StringComparison.Ordinal);
        Assert.Contains("logs/shop.web-7d4b9c-x1.app.previous.log", ex.Diagnostics.Files);
        Assert.Contains("cluster/k3s.log", ex.Diagnostics.Files);
        Assert.Contains("cluster/dockerd.log", ex.Diagnostics.Files);
        var pods = await File.ReadAllTextAsync(Path.Combine(ex.Diagnostics.Directory, "pods.txt"), TestContext.Current.CancellationToken);
        Assert.Contains("waiting CrashLoopBackOff", pods, StringComparison.Ordinal);
        Assert.Contains("last state: terminated Error exit code 1", pods, StringComparison.Ordinal);
        Assert.Equal(RolloutState.Failed, ex.Result.Objects.Single(o => o.Kind == "Deployment").Rollout);

        // Must show: a failing deploy's summary and the bundle's file list.
        _output.WriteLine("Deploy failed: " + ex.Message);
        _output.WriteLine("Summary:");
        foreach (var line in ex.Diagnostics.Summary)
        {
            _output.WriteLine("  " + line);
        }

        _output.WriteLine($"Bundle {ex.Diagnostics.Directory}:");
        foreach (var file in ex.Diagnostics.Files)
        {
            _output.WriteLine("  " + file);
        }
    }

    [Fact]
    public async Task A_missing_image_is_named_with_a_hint_to_push_it_and_warned_about_before_applying()
    {
        _fake.Behavior["web"] = FakePodBehavior.MissingImage;
        using var client = _fake.CreateClient();
        var context = Context with { PushedImages = new Dictionary<string, string>() };

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, AppSettings(), context, TestContext.Current.CancellationToken));

        Assert.Equal("web: image web:1 not found — was it pushed?", ex.Diagnostics!.Summary[0]);
        var warning = _log.Lines.FindIndex(l => l.StartsWith("Warning: Deployment web: image web:1 was neither pushed", StringComparison.Ordinal));
        var firstApply = _log.Lines.FindIndex(l => l.Contains(" created", StringComparison.Ordinal));
        Assert.InRange(warning, 0, firstApply);
        var events = await File.ReadAllLinesAsync(Path.Combine(ex.Diagnostics.Directory, "events.txt"), TestContext.Current.CancellationToken);
        Assert.Equal(events.Order(StringComparer.Ordinal), events); // sorted by time (the fake lists newest first)
        Assert.Contains(events, e => e.Contains("Failed to pull image \"web:1\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_oom_killed_container_is_named()
    {
        _fake.Behavior["worker"] = FakePodBehavior.OomKilled;
        using var client = _fake.CreateClient();
        var settings = new DeploySettings { Manifests = [ManifestFiles.Path("awkward/anchors.yaml")], PollInterval = TimeSpan.FromMilliseconds(50), Timeout = TimeSpan.FromSeconds(20) };

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, settings, Context, TestContext.Current.CancellationToken));

        Assert.Equal("worker: container worker was OOMKilled (memory limit 64Mi) — raise the limit or use less memory", ex.Diagnostics!.Summary[0]);
    }

    [Fact]
    public async Task A_rollout_timeout_says_what_it_waited_for_and_where_the_bundle_is()
    {
        _fake.Behavior["web"] = FakePodBehavior.Stuck;
        using var client = _fake.CreateClient();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, AppSettings(TimeSpan.FromSeconds(2)), Context, TestContext.Current.CancellationToken));

        Assert.Contains("Deployment shop/web did not roll out within 2s (waited for all replicas updated and available; last saw 2/2 updated, 0/2 available)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("diagnostics in " + ex.Diagnostics!.Directory, ex.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(ex.Diagnostics.Directory, "summary.txt")));
        Assert.Equal(RolloutState.TimedOut, ex.Result.Objects.Single(o => o.Kind == "Deployment").Rollout);
        _output.WriteLine(ex.Message);
    }

    [Fact]
    public async Task An_unknown_kind_is_one_line_and_nothing_is_applied()
    {
        using var client = _fake.CreateClient();
        var settings = new DeploySettings { Manifests = [ManifestFiles.Path("app/10-config.yaml"), ManifestFiles.Path("bad/unknown-kind.yaml")] };

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => DeployStep.RunAsync(client, settings, Context, TestContext.Current.CancellationToken));

        Assert.StartsWith("Deploy: kind Gadget (apiVersion example.kubedind.io/v1) in ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("unknown-kind.yaml (document 1, line 1) is not known to the cluster", ex.Message, StringComparison.Ordinal);
        Assert.Empty(_fake.Applied);
    }

    [Fact]
    public async Task A_crd_and_its_instance_in_one_deploy_are_applied_after_the_crd_is_established()
    {
        using var client = _fake.CreateClient();
        var settings = new DeploySettings { Manifests = [ManifestFiles.Path("awkward/crd.yaml")], PollInterval = TimeSpan.FromMilliseconds(50) };

        var result = await DeployStep.RunAsync(client, settings, Context, TestContext.Current.CancellationToken);

        Assert.Equal(["/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.kubedind.io", "/apis/example.kubedind.io/v1/namespaces/default/widgets/blue"], _fake.Applied);
        Assert.Equal(["CustomResourceDefinition", "Widget"], result.Objects.Select(o => o.Kind));
        Assert.Contains(_log.Lines, l => l.Contains("widgets.example.kubedind.io established", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_crd_that_never_becomes_established_times_out_saying_so()
    {
        _fake.EstablishCrds = false;
        using var client = _fake.CreateClient();
        // Long enough that discovery and the apply finish first even while an image build loads the machine.
        var settings = new DeploySettings { Manifests = [ManifestFiles.Path("awkward/crd.yaml")], Timeout = TimeSpan.FromSeconds(8) };

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => DeployStep.RunAsync(client, settings, Context, TestContext.Current.CancellationToken));

        Assert.Equal("Deploy to kdt-fake: applying the manifests did not finish within 8s (gave up waiting for CustomResourceDefinition widgets.example.kubedind.io to be Established (last saw: Established=False)); raise DeploySettings.Timeout.", ex.Message);
    }

    [Fact]
    public async Task Jobs_and_bare_pods_are_waited_for_too()
    {
        using var client = _fake.CreateClient();
        var settings = new DeploySettings
        {
            InlineManifests =
            [
                """
                apiVersion: batch/v1
                kind: Job
                metadata: {name: migrate}
                spec:
                  template:
                    spec:
                      restartPolicy: Never
                      containers: [{name: migrate, image: "localhost:5000/web:1"}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: probe, labels: {app: probe}}
                spec:
                  containers: [{name: probe, image: "localhost:5000/web:1"}]
                """,
            ],
            PollInterval = TimeSpan.FromMilliseconds(50),
        };

        var result = await DeployStep.RunAsync(client, settings, Context, TestContext.Current.CancellationToken);

        Assert.Equal(["Job default/migrate: Ready: 1 succeeded, 0 running, 0 failed", "Pod default/probe: Ready: Running, ready"], result.Objects.Select(o => o.ToString()));
        Assert.Equal([ImageSource.Pushed, ImageSource.Pushed], result.Images.Select(i => i.Source));
    }

    [Fact]
    public async Task An_unreachable_cluster_is_one_line()
    {
        var port = KubeDind.Networking.HostPorts.FindFree();
        using var client = new k8s.Kubernetes(new k8s.KubernetesClientConfiguration { Host = $"http://127.0.0.1:{port}" });

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => DeployStep.RunAsync(client, AppSettings(), Context, TestContext.Current.CancellationToken));

        Assert.StartsWith($"Deploy: the cluster API at http://127.0.0.1:{port}/ is unreachable", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("is the cluster still running?", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Diagnostics_on_demand_explain_every_stuck_pod()
    {
        _fake.Behavior["web"] = FakePodBehavior.CrashLoop;
        using var client = _fake.CreateClient();
        await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, AppSettings(), Context, TestContext.Current.CancellationToken));

        var bundle = await DeployStep.CollectDiagnosticsAsync(client, Context, TestContext.Current.CancellationToken);

        Assert.Equal("web-7d4b9c-x1: container app is crash-looping (exit code 1): last log line: panic: config key 'listen' is missing", Assert.Single(bundle.Summary));
        var nodes = await File.ReadAllTextAsync(Path.Combine(bundle.Directory, "nodes.txt"), TestContext.Current.CancellationToken);
        Assert.Contains("Ready=True KubeletReady", nodes, StringComparison.Ordinal);
    }

    private sealed class RecordingLog : IKubeDindLog
    {
        public List<string> Lines { get; } = [];

        public void Write(KubeDindLogLevel level, string message)
        {
            lock (Lines)
            {
                Lines.Add($"{level}: {message}");
            }
        }
    }
}
