using k8s.Models;
using KubeDind.Deploy;
using KubeDind.Logging;
using KubeDind.Tests.Fakes;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// The deploy step against <see cref="FakeKubernetesApi"/> (a fake API server, not a cluster): CI's smoke of the deploy
/// path (CI has no k3s) and what a real k3s here cannot easily show. Each test says which; CI's fail-fast table is
/// FailFastTableTests. Everything else Deploy does is shown on a real k3s by RealClusterParityTests,
/// RealClusterFailFastTests and RealClusterDeployTests.
/// </summary>
public sealed class DeployStepTests : IAsyncLifetime
{
    private readonly FakeKubernetesApi _fake = new();
    private readonly RecordingLog _log = new();
    private readonly string _artifacts = Path.Combine(Path.GetTempPath(), "kdt-deploy-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ITestOutputHelper _output;

    public DeployStepTests(ITestOutputHelper output) => _output = output;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

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

    /// <summary>The web Deployment of <see cref="AppSettings"/>'s manifests, for <see cref="FakePods.State"/>.</summary>
    private static string WebManifest => FakePods.Manifest("app/20-web.yaml");

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
        // CI smoke of a rollout; only the fake sees the requests on the wire (apply-patch, field manager, force).
        FakePods.State(_fake, "shop", WebManifest, FakePods.Ready());
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
    public async Task A_crash_looping_pod_fails_the_deploy_with_a_bundle_naming_the_cause()
    {
        // CI smoke of a failing rollout and its bundle (with the cluster's own logs).
        FakePods.State(_fake, "shop", WebManifest, FakePods.CrashLoop("app", 1, "starting web\nloading /etc/web/config.yaml\npanic: config key 'listen' is missing\n"));
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
        // The fake lists events newest first, an order a real server cannot be made to show: the bundle must sort them.
        FakePods.State(_fake, "shop", WebManifest, FakePods.PullFailed("app", "web:1", "failed to resolve reference \"web:1\": web:1: not found"));
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
    public async Task A_rollout_timeout_says_what_it_waited_for_and_where_the_bundle_is()
    {
        // A pod that never starts, within 2 s (the real one takes 40 s).
        FakePods.State(_fake, "shop", WebManifest, FakePods.Waiting("app", "ContainerCreating"));
        using var client = _fake.CreateClient();

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => DeployStep.RunAsync(client, AppSettings(TimeSpan.FromSeconds(2)), Context, TestContext.Current.CancellationToken));

        Assert.Contains("Deployment shop/web did not roll out within 2s (waited for all replicas updated and available; last saw 2/2 updated, 0/2 available)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("diagnostics in " + ex.Diagnostics!.Directory, ex.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(ex.Diagnostics.Directory, "summary.txt")));
        Assert.Equal(RolloutState.TimedOut, ex.Result.Objects.Single(o => o.Kind == "Deployment").Rollout);
        _output.WriteLine(ex.Message);
    }

    [Fact]
    public async Task A_crd_that_never_becomes_established_times_out_saying_so()
    {
        // A real k3s establishes a CRD at once; here it stays not Established.
        _fake.Statuses[("CustomResourceDefinition", "widgets.example.kubedind.io")] = new V1CustomResourceDefinitionStatus
        {
            Conditions = [new V1CustomResourceDefinitionCondition { Type = "NamesAccepted", Status = "True" }, new V1CustomResourceDefinitionCondition { Type = "Established", Status = "False" }],
        };
        using var client = _fake.CreateClient();
        // Long enough that discovery and the apply finish first even while an image build loads the machine.
        var settings = new DeploySettings { Manifests = [ManifestFiles.Path("awkward/crd.yaml")], Timeout = TimeSpan.FromSeconds(8) };

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => DeployStep.RunAsync(client, settings, Context, TestContext.Current.CancellationToken));

        Assert.Equal("Deploy to kdt-fake: applying the manifests did not finish within 8s (gave up waiting for CustomResourceDefinition widgets.example.kubedind.io to be Established (last saw: Established=False)); raise DeploySettings.Timeout.", ex.Message);
    }

    [Fact]
    public async Task An_unreachable_cluster_is_one_line()
    {
        // No fake, no cluster: a free port nothing listens on.
        var port = KubeDind.Networking.HostPorts.FindFree();
        using var client = new k8s.Kubernetes(new k8s.KubernetesClientConfiguration { Host = $"http://127.0.0.1:{port}" });

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => DeployStep.RunAsync(client, AppSettings(), Context, TestContext.Current.CancellationToken));

        Assert.StartsWith($"Deploy: the cluster API at http://127.0.0.1:{port}/ is unreachable", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("is the cluster still running?", ex.Message, StringComparison.Ordinal);
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
