using KubeDind.Cluster;
using KubeDind.Deploy;
using Nuke.Common.Tooling;

namespace Nuke.KubeDind.Tests;

public sealed class SettingsMappingTests
{
    [Fact]
    public void ClusterBase_applies_parameters_and_leaves_the_mirror_to_the_core()
    {
        var settings = KubeDindSettingsMapping.ClusterBase(new ClusterSettings(), "ci-cluster", ["disable=traefik --kubelet-arg=v=2"]);

        Assert.Equal("ci-cluster", settings.Name);
        Assert.Equal(["--disable=traefik", "--kubelet-arg=v=2"], settings.K3sArgs);
        Assert.Empty(settings.MirrorUrls);
    }

    [Fact]
    public void ClusterBase_without_name_leaves_the_default_name_to_the_core()
    {
        var settings = KubeDindSettingsMapping.ClusterBase(new ClusterSettings(), "  ", null);

        Assert.Null(settings.Name);
        Assert.Empty(settings.MirrorUrls);
        Assert.Null(settings.Network);
    }

    [Fact]
    public void ClusterBase_keeps_what_is_already_set()
    {
        var settings = KubeDindSettingsMapping.ClusterBase(new ClusterSettings { K3sArgs = ["--a"], Network = "other" }, "n", ["b"]);

        Assert.Equal(["--a", "--b"], settings.K3sArgs);
        Assert.Equal("other", settings.Network);
    }

    [Fact]
    public void The_user_override_runs_after_the_base_and_wins()
    {
        Configure<ClusterSettings> component = _ => KubeDindSettingsMapping.ClusterBase(_, "from-parameter", []);
        Configure<ClusterSettings> user = _ => _ with { Name = "from-user", ReadinessTimeout = TimeSpan.FromSeconds(7) };
        var settings = user(component(new ClusterSettings()));

        Assert.Equal("from-user", settings.Name);
        Assert.Equal(TimeSpan.FromSeconds(7), settings.ReadinessTimeout);
    }

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
    public void ClusterBase_puts_the_k3s_binary_into_the_image_build_and_the_kubeconfig_under_the_artifacts()
    {
        var seed = new ClusterSettings { ImageBuild = new ClusterImageSettings { Force = true } };

        var settings = KubeDindSettingsMapping.ClusterBase(seed, "c1", null, k3sBinary: "/opt/k3s", artifactsDirectory: "/repo/artifacts/kubedind");

        Assert.Equal("/opt/k3s", settings.ImageBuild!.K3sBinary);
        Assert.True(settings.ImageBuild.Force);
        Assert.Equal("/repo/artifacts/kubedind", settings.ArtifactsDirectory);
        Assert.Null(KubeDindSettingsMapping.ClusterBase(new ClusterSettings(), "c1", null).ImageBuild);
    }

    [Fact]
    public void ClusterBase_takes_the_k3s_version_over_a_k3s_binary_from_the_environment()
    {
        var settings = KubeDindSettingsMapping.ClusterBase(new ClusterSettings(), "c1", null, k3sBinary: "/opt/k3s", k3sVersion: " v1.31.4+k3s1 ");

        Assert.Equal("v1.31.4+k3s1", settings.K3sVersion);
        Assert.Null(settings.ImageBuild);
        Assert.Null(KubeDindSettingsMapping.ClusterBase(new ClusterSettings(), "c1", null, k3sVersion: " ").K3sVersion);
    }
}
