using KubeDind.Cluster;
using KubeDind.Docker;

namespace KubeDind.Tests.Cluster;

/// <summary>The cluster container's facts, computed without the engine.</summary>
public sealed class ClusterContainerSpecTests
{
    [Fact]
    public void States_ports_environment_labels_network_and_privileges_in_one_place()
    {
        var settings = new ClusterSettings
        {
            Kubernetes = true,
            MirrorUrls = ["http://kubedind-mirror:5000"],
            K3sArgs = ["--disable=traefik"],
            Ports = [new PortMapping(30080, 8080), new PortMapping(30053, Protocol: "udp")],
            Labels = new Dictionary<string, string> { ["team"] = "a", [KubeDindLabels.Owner] = "someone-else" },
            Network = "net-x",
        };
        var spec = new ClusterContainerSpec("c1", "img:1", settings, "run1");

        var fallback = spec.ToParameters(PrivilegeMode.Fallback, ["CAP_SYS_ADMIN"]);

        Assert.Equal(["5000/tcp", "6443/tcp", "30080/tcp", "30053/udp"], fallback.ExposedPorts.Keys);
        Assert.Equal("8080", fallback.HostConfig.PortBindings["30080/tcp"][0].HostPort);
        Assert.Equal(string.Empty, fallback.HostConfig.PortBindings["6443/tcp"][0].HostPort);
        Assert.All(fallback.HostConfig.PortBindings.Values, b => Assert.Equal("127.0.0.1", b[0].HostIP));
        Assert.Contains("KUBEDIND_REGISTRY_MIRRORS=http://kubedind-mirror:5000", fallback.Env);
        Assert.DoesNotContain(fallback.Env, e => e.StartsWith("KUBEDIND_K3S_ARGS=", StringComparison.Ordinal));
        Assert.Equal(["--disable=traefik"], spec.K3sArguments);
        Assert.Equal(KubeDindLabels.OwnerValue, fallback.Labels[KubeDindLabels.Owner]);
        Assert.Equal("a", fallback.Labels["team"]);
        Assert.Equal("c1", fallback.Labels[KubeDindLabels.Cluster]);
        Assert.Equal("net-x", fallback.HostConfig.NetworkMode);
        Assert.Equal(["c1"], fallback.NetworkingConfig.EndpointsConfig["net-x"].Aliases);
        Assert.Equal(["CAP_SYS_ADMIN"], fallback.HostConfig.CapAdd);
        Assert.False(fallback.HostConfig.Privileged);
        // The state volumes go with the cluster (labelled with it); the engine's layer store is kept between clusters.
        Assert.All(fallback.HostConfig.Mounts.Where(m => m.Source is null), m => Assert.Equal("c1", m.VolumeOptions.Labels[KubeDindLabels.Cluster]));
        var store = Assert.Single(fallback.HostConfig.Mounts, m => m.Source is not null);
        Assert.Equal((LayerStoreSettings.DefaultVolume, ImageContract.Current.LayerStoreDirectory), (store.Source, store.Target));
        Assert.DoesNotContain(
            new ClusterContainerSpec("c2", "img:1", settings with { LayerStore = new LayerStoreSettings { Enabled = false } }, "run1").ToParameters(PrivilegeMode.Privileged).HostConfig.Mounts,
            m => m.Source is not null);

        var compose = new ClusterContainerSpec(new string('n', 70), "img:1", settings with { Kubernetes = false, Ports = [] }, "run1").ToParameters(PrivilegeMode.Privileged);
        Assert.Equal(["5000/tcp"], compose.ExposedPorts.Keys);
        Assert.Contains("KUBEDIND_KUBERNETES=false", compose.Env);
        Assert.Equal(63, compose.Hostname.Length);
        Assert.True(compose.HostConfig.Privileged);
        Assert.Equal([.. ClusterContainerSpec.StateDirectories, ImageContract.Current.LayerStoreDirectory], compose.HostConfig.Mounts.Select(m => m.Target));
    }

    [Fact]
    public void Traefik_publishes_the_container_ports_80_and_443_and_keeps_a_host_port_the_settings_chose()
    {
        var off = new ClusterSettings { Kubernetes = true, Ports = [new PortMapping(30080)] };
        Assert.Equal([30080], ClusterContainerSpec.WithComponentPorts(off).Ports.Select(p => p.ContainerPort));
        Assert.Equal([30080], ClusterContainerSpec.WithComponentPorts(off with { Kubernetes = false, Traefik = true }).Ports.Select(p => p.ContainerPort));

        var on = ClusterContainerSpec.WithComponentPorts(off with { Traefik = true, Ports = [new PortMapping(80, 8080)] });
        Assert.Equal([(80, 8080), (443, 0)], on.Ports.Select(p => (p.ContainerPort, p.HostPort)));
        var parameters = new ClusterContainerSpec("c1", "img:1", on, "run1").ToParameters(PrivilegeMode.Fallback, ["CAP_SYS_ADMIN"]);
        Assert.Equal("8080", parameters.HostConfig.PortBindings["80/tcp"][0].HostPort);
        Assert.Equal(string.Empty, parameters.HostConfig.PortBindings["443/tcp"][0].HostPort);
    }
}
