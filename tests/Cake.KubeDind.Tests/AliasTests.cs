using Cake.Core;
using Cake.Core.Diagnostics;
using Cake.Core.IO;
using Cake.KubeDind.Tests.Fakes;
using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Images;
using KubeDind.Mirror;

namespace Cake.KubeDind.Tests;

/// <summary>Every alias against a fake Cake context and a fake core: what reaches the core, and how failures reach Cake.</summary>
public sealed class AliasTests
{
    private readonly FakeCakeContext _context = new("/work/repo");
    private readonly FakeKubeDindCore _core = new();

    public AliasTests() => KubeDindAliases.UseCore(_context, _core);

    public static TheoryData<string> Aliases =>
    [
        "KubeDindStartMirror", "KubeDindStartCluster", "KubeDindBuildImage", "KubeDindPushImage", "KubeDindLoadImage",
        "KubeDindDeploy", "KubeDindCollectDiagnostics", "KubeDindOpenService", "KubeDindReadLogs", "KubeDindRunJob", "KubeDindTeardown", "KubeDindSweep",
    ];

    [Fact]
    public async Task StartMirror_hands_the_core_the_mapped_settings_and_returns_its_endpoints()
    {
        var endpoints = await _context.KubeDindStartMirror(new KubeDindMirrorSettings().WithName("kdt-m"));

        Assert.Same(FakeKubeDindCore.Mirror, endpoints);
        var (step, argument) = Assert.Single(_core.Calls);
        Assert.Equal("StartMirror", step);
        Assert.Equal(new MirrorSettings { Name = "kdt-m" }, argument);
    }

    [Fact]
    public async Task StartMirror_without_settings_uses_the_core_defaults()
    {
        await _context.KubeDindStartMirror();

        Assert.Equal(new MirrorSettings(), Assert.Single(_core.Calls).Argument);
    }

    [Fact]
    public async Task StartCluster_resolves_paths_against_Cakes_working_directory()
    {
        var cluster = await _context.KubeDindStartCluster(new KubeDindClusterSettings().WithK3sBinary(new FilePath("k3s")).WithMirror(FakeKubeDindCore.Mirror));

        Assert.NotNull(cluster);
        var settings = Assert.IsType<ClusterSettings>(Assert.Single(_core.Calls).Argument);
        Assert.Equal("/work/repo/k3s", settings.ImageBuild!.K3sBinary);
        Assert.Equal(["http://kdt-mirror-docker-io:5000"], settings.MirrorUrls);
        await _context.KubeDindStartCluster();
        Assert.True(Assert.IsType<ClusterSettings>(_core.Calls[1].Argument).Kubernetes);
    }

    [Fact]
    public async Task BuildImage_hands_the_core_an_absolute_context_and_returns_the_tag()
    {
        var tag = await _context.KubeDindBuildImage(new DirectoryPath("publish"), "example-app:dev");

        Assert.Equal("example-app:dev", tag);
        var request = Assert.IsType<KubeDindImage>(Assert.Single(_core.Calls).Argument);
        Assert.Equal("/work/repo/publish", request.ContextDirectory);
        Assert.Equal("BASE_IMAGE", request.BaseImageBuildArg);
    }

    [Fact]
    public async Task PushImage_passes_the_image_and_the_name()
    {
        var reference = await _context.KubeDindPushImage(FakeKubeDindCore.Cluster(), "example-app:dev", new KubeDindPushSettings().WithName("app:1"));

        Assert.Equal("localhost:5000/app:1", reference);
        Assert.Equal(("example-app:dev", (string?)"app:1"), Assert.Single(_core.Calls).Argument);
        await _context.KubeDindPushImage(FakeKubeDindCore.Cluster(), "example-app:dev");
        Assert.Equal(("example-app:dev", (string?)null), _core.Calls[1].Argument);
    }

    [Fact]
    public async Task LoadImage_passes_the_image()
    {
        Assert.Equal("example-app:dev", await _context.KubeDindLoadImage(FakeKubeDindCore.Cluster(), "example-app:dev"));
        Assert.Equal("LoadImage", Assert.Single(_core.Calls).Step);
    }

    [Fact]
    public async Task Deploy_passes_the_mapped_settings()
    {
        var result = await _context.KubeDindDeploy(FakeKubeDindCore.Cluster(), new KubeDindDeploySettings().WithManifests("deploy").WithNamespace("st"));

        Assert.True(result.Succeeded);
        var settings = Assert.IsType<DeploySettings>(Assert.Single(_core.Calls).Argument);
        Assert.Equal(["deploy"], settings.Manifests);
        Assert.Equal("st", settings.Namespace);
        Assert.Equal("/work/repo", settings.BaseDirectory);
    }

    [Fact]
    public async Task CollectDiagnostics_returns_the_cores_bundle()
    {
        var bundle = await _context.KubeDindCollectDiagnostics(FakeKubeDindCore.Cluster());

        Assert.Equal("/work/repo/artifacts/kubedind/x/diagnostics", bundle.Directory);
        Assert.Equal("CollectDiagnostics", Assert.Single(_core.Calls).Step);
        Assert.Contains(_context.FakeLog.Entries, e => e.Level == LogLevel.Information && e.Message == "KubeDind report: " + bundle.ReportPath);
    }

    [Fact]
    public async Task OpenService_passes_service_port_and_namespace()
    {
        await _context.KubeDindOpenService(FakeKubeDindCore.Cluster(), "example-app", "http", new KubeDindServiceSettings().WithNamespace("st"));

        var (service, port, settings) = ((string, string, KubeDindServiceSettings))Assert.Single(_core.Calls).Argument!;
        Assert.Equal(("example-app", "http", "st"), (service, port, settings.Namespace));
    }

    [Fact]
    public async Task Teardown_leaves_the_mirror_unless_asked()
    {
        await _context.KubeDindTeardown(FakeKubeDindCore.Cluster());
        await _context.KubeDindTeardown(FakeKubeDindCore.Cluster(), new KubeDindTeardownSettings().WithStopMirror("kdt-m"));

        Assert.Equal(new TeardownSettings(), _core.Calls[0].Argument);
        Assert.Equal(new TeardownSettings { MirrorName = "kdt-m" }, _core.Calls[1].Argument);
    }

    [Fact]
    public void Timeline_answers_the_cores_timeline_and_the_real_core_an_empty_one_before_any_step()
    {
        _core.RunTimeline.Record(global::KubeDind.Run.RunPhase.Push, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(2));

        Assert.Same(_core.RunTimeline, _context.KubeDindTimeline());
        Assert.Empty(_core.Calls);
        var untouched = new FakeCakeContext("/work/repo");
        Assert.True(untouched.KubeDindTimeline().IsEmpty);
        Assert.Equal("KubeDind timeline: no KubeDind step ran.", untouched.KubeDindTimeline().Render());
    }

    [Fact]
    public async Task Sweep_passes_the_max_age()
    {
        await _context.KubeDindSweep(new KubeDindSweepSettings().WithMaxAge(TimeSpan.FromMinutes(5)));
        await _context.KubeDindSweep();

        Assert.Equal(new SweepSettings { MaxAge = TimeSpan.FromMinutes(5) }, _core.Calls[0].Argument);
        Assert.Equal(new SweepSettings(), _core.Calls[1].Argument);
    }

    [Fact]
    public async Task ReadLogs_and_RunJob_hand_the_core_their_settings_with_paths_made_absolute()
    {
        var logs = await _context.KubeDindReadLogs(FakeKubeDindCore.Cluster(), "Job", "migrate", new KubeDindLogsSettings().WithNamespace("shop").WithTailLines(50));
        await _context.KubeDindRunJob(FakeKubeDindCore.Cluster(), new KubeDindJobSettings().WithManifest(new FilePath("deploy/migrate.yaml")).WithNamespace("shop").WithTimeout(TimeSpan.FromMinutes(2)));
        await _context.KubeDindRunJob(FakeKubeDindCore.Cluster(), new KubeDindJobSettings().WithImage("app:dev", "sh", "-c", "exit 0").WithName("smoke").WithImageRewrite("app", "localhost:5000/app"));

        Assert.Equal("fake log\n", logs.Text);
        Assert.Equal(("Job", "migrate", "shop", (int?)50), _core.Calls[0].Argument);
        var fromManifest = Assert.IsType<JobRunSettings>(_core.Calls[1].Argument);
        Assert.Equal(("/work/repo/deploy/migrate.yaml", "shop", TimeSpan.FromMinutes(2)), (fromManifest.Manifest, fromManifest.Namespace, fromManifest.Timeout));
        var fromImage = Assert.IsType<JobRunSettings>(_core.Calls[2].Argument);
        Assert.Equal(("app:dev", "smoke", "localhost:5000/app"), (fromImage.Image, fromImage.Name, fromImage.ImageRewrites["app"]));
        Assert.Equal(["sh", "-c", "exit 0"], fromImage.Command);
    }

    [Theory]
    [MemberData(nameof(Aliases))]
    public async Task A_core_failure_becomes_a_Cake_error_with_the_cores_line_and_its_details_logged(string alias)
    {
        var failure = new KubeDindException("cluster kdt: the registry gate failed; see the lines below.", "registry.log: {\"level\":\"error\"}\nsecond line");
        _core.Failure = failure;

        var error = await Assert.ThrowsAsync<CakeException>(() => Call(alias));

        Assert.Equal(failure.Message, error.Message);
        Assert.Same(failure, error.InnerException);
        Assert.Same(failure, error.GetKubeDindException());
        var errors = _context.FakeLog.Entries.Where(e => e.Level == LogLevel.Error).Select(e => e.Message).ToList();
        Assert.Equal(["  registry.log: {\"level\":\"error\"}", "  second line"], errors);
        Assert.All(_context.FakeLog.Entries.Where(e => e.Level == LogLevel.Error), e => Assert.Equal(Verbosity.Quiet, e.Verbosity));
    }

    [Fact]
    public async Task A_failed_deploy_names_its_diagnostics_bundle()
    {
        var bundle = new DiagnosticsBundle("/work/repo/artifacts/kubedind/kdt/deploy-1", ["report.html", "summary.txt"], ["pod example-app-1: ImagePullBackOff"]);
        bundle = bundle with { ReportPath = bundle.Directory + "/report.html" };
        _core.Failure = new DeployFailedException("Deploy to kdt: Deployment example-app failed: ImagePullBackOff; diagnostics in /work/repo/artifacts/kubedind/kdt/deploy-1", null, new DeployResult([], [], [], TimeSpan.Zero, bundle));

        var error = await Assert.ThrowsAsync<CakeException>(() => _context.KubeDindDeploy(FakeKubeDindCore.Cluster(), new KubeDindDeploySettings()));

        Assert.Equal(bundle.Directory, error.GetKubeDindDiagnosticsDirectory());
        Assert.Contains(_context.FakeLog.Entries, e => e.Level == LogLevel.Error && e.Message == "KubeDind diagnostics bundle: " + bundle.Directory);
        Assert.Contains(_context.FakeLog.Entries, e => e.Level == LogLevel.Error && e.Message == "KubeDind report: " + bundle.ReportPath);
    }

    [Fact]
    public async Task Missing_arguments_fail_as_Cake_errors_saying_what_to_pass()
    {
        var noCluster = await Assert.ThrowsAsync<CakeException>(() => _context.KubeDindPushImage((KubeDindCluster)null!, "app"));
        Assert.Contains("KubeDindStartCluster returned", noCluster.Message, StringComparison.Ordinal);
        var noImage = await Assert.ThrowsAsync<CakeException>(() => _context.KubeDindLoadImage(FakeKubeDindCore.Cluster(), " "));
        Assert.Contains("image is empty", noImage.Message, StringComparison.Ordinal);
        var noSettings = await Assert.ThrowsAsync<CakeException>(() => _context.KubeDindDeploy(FakeKubeDindCore.Cluster(), null!));
        Assert.Contains("new KubeDindDeploySettings()", noSettings.Message, StringComparison.Ordinal);
        Assert.Empty(_core.Calls);
    }

    [Fact]
    public async Task The_real_core_reports_an_engine_that_does_not_answer_as_a_Cake_error()
    {
        var context = new FakeCakeContext("/work/repo", new Dictionary<string, string> { ["DOCKER_HOST"] = "unix:///tmp/kdt-cake-no-such-engine.sock" });

        var error = await Assert.ThrowsAsync<CakeException>(() => context.KubeDindSweep());

        Assert.StartsWith("Docker engine at unix:///tmp/kdt-cake-no-such-engine.sock does not answer", error.Message, StringComparison.Ordinal);
        Assert.IsType<KubeDindException>(error.InnerException);
    }

    [Fact]
    public async Task The_real_core_rejects_a_DOCKER_HOST_that_is_not_a_URI()
    {
        var context = new FakeCakeContext("/work/repo", new Dictionary<string, string> { ["DOCKER_HOST"] = "not a uri" });

        var error = await Assert.ThrowsAsync<CakeException>(() => context.KubeDindStartMirror());

        Assert.StartsWith("DOCKER_HOST='not a uri' is not a URI", error.Message, StringComparison.Ordinal);
    }

    private Task Call(string alias)
    {
        var cluster = FakeKubeDindCore.Cluster();
        return alias switch
        {
            "KubeDindStartMirror" => _context.KubeDindStartMirror(),
            "KubeDindStartCluster" => _context.KubeDindStartCluster(),
            "KubeDindBuildImage" => _context.KubeDindBuildImage(new DirectoryPath("publish"), "app:dev"),
            "KubeDindPushImage" => _context.KubeDindPushImage(cluster, "app:dev"),
            "KubeDindLoadImage" => _context.KubeDindLoadImage(cluster, "app:dev"),
            "KubeDindDeploy" => _context.KubeDindDeploy(cluster, new KubeDindDeploySettings()),
            "KubeDindCollectDiagnostics" => _context.KubeDindCollectDiagnostics(cluster),
            "KubeDindOpenService" => _context.KubeDindOpenService(cluster, "svc", "http"),
            "KubeDindReadLogs" => _context.KubeDindReadLogs(cluster, "Job", "migrate"),
            "KubeDindRunJob" => _context.KubeDindRunJob(cluster, new KubeDindJobSettings().WithImage("app:dev", "true")),
            "KubeDindTeardown" => _context.KubeDindTeardown(cluster),
            "KubeDindSweep" => _context.KubeDindSweep(),
            _ => throw new ArgumentOutOfRangeException(nameof(alias), alias, null),
        };
    }
}
