using Cake.Core.IO;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Images;
using KubeDind.Mirror;

namespace Cake.KubeDind.Tests;

/// <summary>The Cake settings → core settings mapping: pure, no Docker.</summary>
public sealed class SettingsMappingTests
{
    private static readonly DirectoryPath WorkingDirectory = new("/work/repo");

    [Fact]
    public void Empty_mirror_settings_map_to_the_core_defaults()
    {
        Assert.Equal(new MirrorSettings(), new KubeDindMirrorSettings().ToCore());
    }

    [Fact]
    public void Mirror_settings_map_every_value()
    {
        var core = new KubeDindMirrorSettings()
            .WithName("kdt-mirror")
            .WithOnlyRegistries("docker.io", "quay.io")
            .WithRegistry("registry.example", "https://registry.example", hostPort: 5001)
            .WithCredentials("docker.io", "kdt-user", "kdt-token")
            .WithHostAddress("0.0.0.0")
            .WithImage("registry:2")
            .WithReadinessTimeout(TimeSpan.FromSeconds(7))
            .WithoutEnvironmentCredentials()
            .ToCore();

        Assert.Equal("kdt-mirror", core.Name);
        Assert.Equal(
            [
                MirrorSettings.DefaultRegistries[0] with { Credentials = new MirrorCredentials("kdt-user", "kdt-token") },
                MirrorSettings.DefaultRegistries[2],
                new MirrorRegistry("registry.example", "https://registry.example") { HostPort = 5001 },
            ],
            core.Registries);
        Assert.Equal("0.0.0.0", core.HostAddress);
        Assert.Equal("registry:2", core.Image);
        Assert.Equal(TimeSpan.FromSeconds(7), core.ReadinessTimeout);
        Assert.False(core.CredentialsFromEnvironment);
        Assert.DoesNotContain("kdt-token", core.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_cluster_settings_map_to_the_core_defaults()
    {
        var core = new KubeDindClusterSettings().ToCore(WorkingDirectory);
        var defaults = new ClusterSettings();

        Assert.Null(core.Name);
        Assert.Null(core.Image);
        Assert.Null(core.ImageBuild);
        Assert.Empty(core.MirrorUrls);
        Assert.Null(core.Network);
        Assert.Equal(defaults.Kubernetes, core.Kubernetes);
        Assert.Equal(defaults.ReadinessTimeout, core.ReadinessTimeout);
        Assert.Equal(defaults.Privilege, core.Privilege);
        Assert.Empty(core.K3sArgs);
        Assert.Empty(core.Environment);
        Assert.Empty(core.Labels);
        Assert.Equal(defaults.HostAddress, core.HostAddress);
        Assert.Equal(defaults.RegistryHostPort, core.RegistryHostPort);
        Assert.Equal(defaults.ApiHostPort, core.ApiHostPort);
        Assert.Empty(core.Ports);
        Assert.Empty(core.Mounts);
        Assert.Null(core.KubeconfigDirectory);
        Assert.Equal("/work/repo/" + defaults.ArtifactsDirectory, core.ArtifactsDirectory);
        Assert.Equal(defaults.StopTimeout, core.StopTimeout);
        Assert.Equal(defaults.KeepOnFailure, core.KeepOnFailure);
        Assert.Equal(defaults.SweepFirst, core.SweepFirst);
        Assert.True(core.WarmStart);
        Assert.Equal(new LayerStoreSettings(), core.LayerStore);
    }

    [Fact]
    public void Cluster_settings_map_every_value_with_paths_made_absolute_against_the_working_directory()
    {
        var core = new KubeDindClusterSettings()
            .WithName("kdt-cluster")
            .WithImage("kubedind/kube-dind:test")
            .WithK3sBinary(new FilePath("bin/k3s"))
            .WithBakedAirgapImages(new FilePath("/images/airgap.tar"))
            .WithAirgapImages(new FilePath("images/k3s-airgap-images-amd64.tar.zst"))
            .WithRegistryMirror("quay.io", "http://quay-mirror:5000")
            .WithTraefik()
            .WithServiceLoadBalancer()
            .WithMirror(FakeMirror())
            .WithMirrorUrl("http://other:5000")
            .WithComposeMode()
            .WithReadinessTimeout(TimeSpan.FromMinutes(2))
            .WithPrivilege(PrivilegeMode.Fallback)
            .WithK3sArgsLine("--disable traefik --node-label \"a=b c\"")
            .WithK3sArgs("--debug")
            .WithEnvironment("A", "1")
            .WithLabel("team", "qa")
            .WithHostAddress("0.0.0.0")
            .WithRegistryHostPort(5555)
            .WithApiHostPort(6444)
            .WithPublishedPort(30080)
            .WithMount(new DirectoryPath("manifests"), "/code", readOnly: true)
            .WithArtifactsDirectory(new DirectoryPath("out/diag"))
            .WithKubeconfigDirectory(new DirectoryPath("out/kube"))
            .WithStopTimeout(TimeSpan.FromSeconds(3))
            .WithKeepOnFailure()
            .WithSweepFirst(false)
            .WithAgents(2)
            .WithWarmStart(false)
            .WithLayerStore(false, limitBytes: 5_000_000)
            .ToCore(WorkingDirectory);

        Assert.Equal("kdt-cluster", core.Name);
        Assert.Equal("kubedind/kube-dind:test", core.Image);
        Assert.Equal(new ClusterImageSettings { K3sBinary = "/work/repo/bin/k3s", AirgapImagesTarball = "/images/airgap.tar" }, core.ImageBuild);
        Assert.Equal(["http://kdt-mirror-docker-io:5000", "http://other:5000"], core.MirrorUrls);
        Assert.Equal(["http://kdt-mirror-docker-io:5000"], core.RegistryMirrors["docker.io"]);
        Assert.Equal("/work/repo/images/k3s-airgap-images-amd64.tar.zst", core.AirgapImages);
        Assert.Equal(["http://quay-mirror:5000"], core.RegistryMirrors["quay.io"]);
        Assert.True(core.Traefik);
        Assert.True(core.ServiceLoadBalancer);
        Assert.Equal("kubedind", core.Network);
        Assert.False(core.Kubernetes);
        Assert.Equal(TimeSpan.FromMinutes(2), core.ReadinessTimeout);
        Assert.Equal(PrivilegeMode.Fallback, core.Privilege);
        Assert.Equal(["--disable", "traefik", "--node-label", "a=b c", "--debug"], core.K3sArgs);
        Assert.Equal(2, core.Agents);
        Assert.Equal("1", core.Environment["A"]);
        Assert.Equal("qa", core.Labels["team"]);
        Assert.Equal("0.0.0.0", core.HostAddress);
        Assert.Equal(5555, core.RegistryHostPort);
        Assert.Equal(6444, core.ApiHostPort);
        Assert.Equal([new PortMapping(30080)], core.Ports);
        Assert.Equal([new BindMount("/work/repo/manifests", "/code", ReadOnly: true)], core.Mounts);
        Assert.Equal("/work/repo/out/diag", core.ArtifactsDirectory);
        Assert.Equal("/work/repo/out/kube", core.KubeconfigDirectory);
        Assert.Equal(TimeSpan.FromSeconds(3), core.StopTimeout);
        Assert.True(core.KeepOnFailure);
        Assert.False(core.SweepFirst);
        Assert.False(core.WarmStart);
        Assert.Equal(new LayerStoreSettings { Enabled = false, LimitBytes = 5_000_000 }, core.LayerStore);
    }

    [Fact]
    public void WithK3sVersion_sets_the_release_and_an_empty_one_changes_nothing()
    {
        Assert.Equal("v1.31.4+k3s1", new KubeDindClusterSettings().WithK3sVersion("v1.31.4+k3s1").ToCore(WorkingDirectory).K3sVersion);
        Assert.Null(new KubeDindClusterSettings().WithK3sVersion(null).WithK3sVersion(" ").ToCore(WorkingDirectory).K3sVersion);
    }

    [Fact]
    public void Only_a_k3s_source_or_a_forced_build_asks_the_core_to_check_the_image()
    {
        Assert.Null(new KubeDindClusterSettings().WithK3sBinary(null).WithK3sBinary(new FilePath(" ")).WithK3sBinary("").ToCore(WorkingDirectory).ImageBuild);
        Assert.Equal(new ClusterImageSettings { K3sDownload = true }, new KubeDindClusterSettings().WithK3sDownload().ToCore(WorkingDirectory).ImageBuild);
        Assert.Equal(new ClusterImageSettings { Force = true }, new KubeDindClusterSettings().WithForcedImageBuild().ToCore(WorkingDirectory).ImageBuild);
        Assert.Equal(new ClusterImageSettings { Tag = "my/kube-dind:ci" }, new KubeDindClusterSettings().WithImageTag("my/kube-dind:ci").ToCore(WorkingDirectory).ImageBuild);
    }

    [Fact]
    public void Deploy_settings_default_to_the_core_defaults_resolved_in_the_working_directory()
    {
        var settings = new KubeDindDeploySettings();
        var core = settings.ToCore(WorkingDirectory);
        var defaults = new DeploySettings();

        Assert.Equal("/work/repo", core.BaseDirectory);
        Assert.Null(core.Namespace);
        Assert.Empty(core.Manifests);
        Assert.Empty(core.ImageRewrites);
        Assert.Equal(defaults.WaitForRollout, core.WaitForRollout);
        Assert.Equal(defaults.Timeout, core.Timeout);
        Assert.Equal(defaults.FailFast, core.FailFast);
        Assert.Equal(defaults.FieldManager, core.FieldManager);
        Assert.Equal(defaults.PollInterval, core.PollInterval);
        Assert.Equal(defaults.LogTailLines, core.LogTailLines);
    }

    [Fact]
    public void Deploy_settings_map_every_value()
    {
        var settings = new KubeDindDeploySettings()
            .WithManifests("deploy/*.yaml", "k8s")
            .WithManifest(new FilePath("extra.yaml"))
            .WithManifestDirectory(new DirectoryPath("more"))
            .WithInlineManifest("kind: ConfigMap")
            .WithBaseDirectory(new DirectoryPath("examples/app"))
            .WithNamespace("system-test")
            .WithImageRewrite("example-app", "localhost:5000/example-app:1")
            .WithWaitForRollout(false)
            .WithTimeout(TimeSpan.FromMinutes(1))
            .WithFailFast(false)
            .WithFieldManager("cake")
            .WithPollInterval(TimeSpan.FromMilliseconds(250))
            .WithLogTailLines(50);
        var core = settings.ToCore(WorkingDirectory);

        Assert.Equal(["deploy/*.yaml", "k8s", "extra.yaml", "more"], core.Manifests);
        Assert.Equal(["kind: ConfigMap"], core.InlineManifests);
        Assert.Equal("/work/repo/examples/app", core.BaseDirectory);
        Assert.Equal("system-test", core.Namespace);
        Assert.Equal("localhost:5000/example-app:1", core.ImageRewrites["example-app"]);
        Assert.False(core.WaitForRollout);
        Assert.Equal(TimeSpan.FromMinutes(1), core.Timeout);
        Assert.False(core.FailFast);
        Assert.Equal("cake", core.FieldManager);
        Assert.Equal(TimeSpan.FromMilliseconds(250), core.PollInterval);
        Assert.Equal(50, core.LogTailLines);
    }

    [Fact]
    public void Teardown_and_sweep_settings_map()
    {
        Assert.Null(new KubeDindTeardownSettings().ToCore().MirrorName);
        Assert.Equal("kubedind-mirror", new KubeDindTeardownSettings().WithStopMirror().ToCore().MirrorName);
        Assert.Equal("kdt-mirror", new KubeDindTeardownSettings().WithStopMirror(Fakes.FakeKubeDindCore.Mirror).ToCore().MirrorName);
        Assert.Equal(new SweepSettings(), new KubeDindSweepSettings().ToCore());
        Assert.Equal(TimeSpan.FromHours(1), new KubeDindSweepSettings().WithMaxAge(TimeSpan.FromHours(1)).ToCore().MaxAge);
    }

    [Fact]
    public void Build_image_settings_map_to_absolute_paths_and_pass_the_base_image_unless_told_not_to()
    {
        var core = new KubeDindBuildImageSettings()
            .WithContext(new DirectoryPath("artifacts/publish"))
            .WithDockerfile(new FilePath("examples/app/Dockerfile"))
            .WithTag("example-app:dev")
            .WithBuildArg("VERSION", "1")
            .WithLabel("team", "qa")
            .ToCore(WorkingDirectory);

        Assert.Equal("/work/repo/artifacts/publish", core.ContextDirectory);
        Assert.Equal("/work/repo/examples/app/Dockerfile", core.Dockerfile);
        Assert.Equal("example-app:dev", core.Tag);
        Assert.Equal("1", core.BuildArgs["VERSION"]);
        Assert.Equal("qa", core.Labels["team"]);
        Assert.Equal(KubeDindImage.DefaultBaseImageBuildArg, core.BaseImageBuildArg);
        Assert.Null(new KubeDindBuildImageSettings().WithContext(new DirectoryPath("c")).ToCore(WorkingDirectory).Dockerfile);
        Assert.Null(new KubeDindBuildImageSettings().WithoutBaseImageBuildArg().ToCore(WorkingDirectory).BaseImageBuildArg);
        Assert.Equal("BASE", new KubeDindBuildImageSettings().WithBaseImageBuildArg("BASE").ToCore(WorkingDirectory).BaseImageBuildArg);
    }

    [Fact]
    public void Build_image_settings_without_a_context_or_tag_fail_in_one_line_in_the_core()
    {
        var noContext = Assert.Throws<global::KubeDind.KubeDindException>(() => BuildImage.Validate(new KubeDindBuildImageSettings().WithTag("t").ToCore(WorkingDirectory)));
        Assert.Contains("ContextDirectory", noContext.Message, StringComparison.Ordinal);
        var noTag = Assert.Throws<global::KubeDind.KubeDindException>(() => BuildImage.Validate(new KubeDindBuildImageSettings().WithContext(new DirectoryPath("c")).ToCore(WorkingDirectory)));
        Assert.Contains("Tag", noTag.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, new string[0])]
    [InlineData("  ", new string[0])]
    [InlineData("--a  b", new[] { "--a", "b" })]
    [InlineData("--x=\"1 2\" \"\" c", new[] { "--x=1 2", "", "c" })]
    public void Command_lines_split_on_white_space_with_double_quotes_grouping(string? line, string[] expected)
    {
        Assert.Equal(expected, ArgumentLine.Split(line));
    }

    private static KubeDindMirror FakeMirror() => Fakes.FakeKubeDindCore.Mirror;
}
