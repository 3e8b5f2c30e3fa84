using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Mirror;
using Nuke.Common.IO;
using Nuke.Common.Tooling;

namespace Nuke.KubeDind.Tests;

public sealed class SettingsMappingTests
{
    private static readonly KubeDindMirror Mirror = new(
        "kubedind-mirror",
        [
            new("docker.io", MirrorSettings.DockerHub, "id", "kubedind-mirror-docker-io", "http://127.0.0.1:41234", "http://kubedind-mirror-docker-io:5000", "kubedind", Reused: true),
            new("quay.io", "https://quay.io", "id2", "kubedind-mirror-quay-io", "http://127.0.0.1:41235", "http://kubedind-mirror-quay-io:5000", "kubedind", Reused: true, CacheOnly: true),
        ],
        DateTimeOffset.UtcNow);

    [Fact]
    public void ClusterBase_applies_parameters_and_wires_the_mirror()
    {
        var settings = KubeDindSettingsMapping.ClusterBase(new ClusterSettings(), "ci-cluster", ["disable=traefik --kubelet-arg=v=2"], Mirror);

        Assert.Equal("ci-cluster", settings.Name);
        Assert.Equal(["--disable=traefik", "--kubelet-arg=v=2"], settings.K3sArgs);
        Assert.Equal(["http://kubedind-mirror-docker-io:5000"], settings.MirrorUrls);
        Assert.Equal(["http://kubedind-mirror-quay-io:5000"], settings.RegistryMirrors["quay.io"]);
        Assert.Equal("kubedind", settings.Network);
    }

    [Fact]
    public void ClusterBase_without_name_leaves_the_default_name_to_the_core()
    {
        var settings = KubeDindSettingsMapping.ClusterBase(new ClusterSettings(), "  ", null, mirror: null);

        Assert.Null(settings.Name);
        Assert.Empty(settings.MirrorUrls);
        Assert.Null(settings.Network);
    }

    [Fact]
    public void ClusterBase_keeps_what_is_already_set_and_wires_the_mirror_once_as_the_core_does()
    {
        var seed = new ClusterSettings { K3sArgs = ["--a"], MirrorUrls = ["http://kubedind-mirror-docker-io:5000"], Network = "other" };

        var settings = KubeDindSettingsMapping.ClusterBase(seed, "n", ["b"], Mirror);

        Assert.Equal(["--a", "--b"], settings.K3sArgs);
        Assert.Equal(seed.WithMirror(Mirror).MirrorUrls, settings.MirrorUrls);
        Assert.Equal(["http://kubedind-mirror-docker-io:5000"], settings.MirrorUrls);
        Assert.Equal("kubedind", settings.Network);
    }

    [Fact]
    public void The_user_override_runs_after_the_base_and_wins()
    {
        Configure<ClusterSettings> component = _ => KubeDindSettingsMapping.ClusterBase(_, "from-parameter", [], Mirror);
        Configure<ClusterSettings> user = _ => _ with { Name = "from-user", ReadinessTimeout = TimeSpan.FromSeconds(7) };
        var settings = user(component(new ClusterSettings()));

        Assert.Equal("from-user", settings.Name);
        Assert.Equal(TimeSpan.FromSeconds(7), settings.ReadinessTimeout);
        Assert.Equal(["http://kubedind-mirror-docker-io:5000"], settings.MirrorUrls);
    }

    [Theory]
    [InlineData(new string[0], new string[0])]
    [InlineData(new[] { "  --x  --y=1 " }, new[] { "--x", "--y=1" })]
    [InlineData(new[] { "disable=traefik", "-v=2" }, new[] { "--disable=traefik", "-v=2" })]
    [InlineData(new[] { "--node-label=team=\"a b\" --kubelet-arg=v=2" }, new[] { "--node-label=team=a b", "--kubelet-arg=v=2" })]
    public void SplitK3sArgs_splits_as_a_shell_would_and_puts_dashes_back(string[] input, string[] expected) =>
        Assert.Equal(expected, KubeDindSettingsMapping.SplitK3sArgs(input));

    [Fact]
    public void DeploymentBase_appends_declared_manifests_once_and_resolves_against_the_root()
    {
        var settings = KubeDindSettingsMapping.DeploymentBase(new DeploySettings { Manifests = ["/tmp/app.yaml"] }, ["/tmp/app.yaml", "k8s/*.yaml"], "/repo") with { Namespace = "example" };

        Assert.Equal(["/tmp/app.yaml", "k8s/*.yaml"], settings.Manifests);
        Assert.Equal("/repo", settings.BaseDirectory);
        Assert.Equal("example", settings.Namespace);
    }

    [Fact]
    public void DeploymentBase_keeps_a_base_directory_the_user_chose()
    {
        var settings = KubeDindSettingsMapping.DeploymentBase(new DeploySettings { BaseDirectory = "/elsewhere" }, [], "/repo");

        Assert.Equal("/elsewhere", settings.BaseDirectory);
    }

    [Fact]
    public void ValidateDeployment_without_manifests_says_what_to_override()
    {
        var error = Assert.Throws<KubeDindException>(() => KubeDindSettingsMapping.ValidateDeployment(new DeploySettings()));

        Assert.Contains("IKubeDind.Manifests", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        KubeDindSettingsMapping.ValidateDeployment(new DeploySettings { InlineManifests = ["kind: Namespace"] });
    }

    [Fact]
    public void ClusterBase_puts_the_k3s_binary_into_the_image_build_and_the_kubeconfig_under_the_artifacts()
    {
        var seed = new ClusterSettings { ImageBuild = new ClusterImageSettings { Force = true } };

        var settings = KubeDindSettingsMapping.ClusterBase(seed, "c1", null, null, k3sBinary: "/opt/k3s", artifactsDirectory: "/repo/artifacts/kubedind");

        Assert.Equal("/opt/k3s", settings.ImageBuild!.K3sBinary);
        Assert.True(settings.ImageBuild.Force);
        Assert.Equal("/repo/artifacts/kubedind", settings.ArtifactsDirectory);
        Assert.Null(KubeDindSettingsMapping.ClusterBase(new ClusterSettings(), "c1", null, null).ImageBuild);
    }

    [Fact]
    public void ClusterBase_takes_the_k3s_version_over_a_k3s_binary_from_the_environment()
    {
        var settings = KubeDindSettingsMapping.ClusterBase(new ClusterSettings(), "c1", null, null, k3sBinary: "/opt/k3s", k3sVersion: " v1.31.4+k3s1 ");

        Assert.Equal("v1.31.4+k3s1", settings.K3sVersion);
        Assert.Null(settings.ImageBuild);
        Assert.Null(KubeDindSettingsMapping.ClusterBase(new ClusterSettings(), "c1", null, null, k3sVersion: " ").K3sVersion);
    }

    [Fact]
    public void ValidateImages_rejects_duplicates_empty_tags_missing_contexts_and_Dockerfiles()
    {
        var context = Directory.CreateTempSubdirectory("kdt-nuke-context-").FullName;
        Assert.Contains("twice", Assert.Throws<KubeDindException>(() => KubeDindSettingsMapping.ValidateImages([new("a:1"), new("a:1"), new("a:1")])).Message.Replace("3 times", "twice"));
        Assert.Contains("no tag", Assert.Throws<KubeDindException>(() => KubeDindSettingsMapping.ValidateImages([new(" ")])).Message);
        Assert.Contains("does not exist", Assert.Throws<KubeDindException>(() => KubeDindSettingsMapping.ValidateImages([new("a:1", AbsolutePath.Create("/nonexistent/kdt-nuke"))])).Message);
        Assert.Contains("no Dockerfile", Assert.Throws<KubeDindException>(() => KubeDindSettingsMapping.ValidateImages([new("a:1", AbsolutePath.Create(context))])).Message);
        File.WriteAllText(Path.Combine(context, "Dockerfile"), "FROM scratch\n");
        Assert.Equal(2, KubeDindSettingsMapping.ValidateImages([new("a:1"), new("b:1", AbsolutePath.Create(context))]).Count);
        Directory.Delete(context, recursive: true);
    }
}
