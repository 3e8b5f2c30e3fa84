using System.Text.Json.Nodes;
using KubeDind.Cluster;
using KubeDind.Docker;

namespace KubeDind.Tests.Cluster;

/// <summary>The facts of a multi-node cluster's containers and files, computed without the engine.</summary>
public sealed class MultiNodeSpecTests
{
    private static readonly ClusterSettings TwoAgents = new()
    {
        Kubernetes = true,
        Agents = 2,
        MirrorUrls = ["http://kubedind-mirror:5000"],
        K3sArgs = ["--disable=metrics-server", "--kubelet-arg=v=2", "--node-label=team=a"],
        Environment = new Dictionary<string, string> { ["EXTRA"] = "1" },
        Labels = new Dictionary<string, string> { ["team"] = "a" },
        Ports = [new PortMapping(30080, 8080)],
        Network = "net-x",
    };

    [Fact]
    public void An_agent_is_the_servers_image_privileges_network_and_labels_without_ports_running_k3s_agent()
    {
        var server = new ClusterContainerSpec("Kd_1", "img:1", TwoAgents, "run1");
        var agent = new ClusterAgentSpec(server, 2, "K10abc::server:secret");

        var parameters = agent.ToParameters(PrivilegeMode.Fallback, ["CAP_SYS_ADMIN"]);

        Assert.Equal("Kd_1-agent-2", parameters.Name);
        Assert.Equal("kd-1-agent-2", agent.NodeName);
        Assert.Equal("kd-1-agent-2", parameters.Hostname);
        Assert.Equal("img:1", parameters.Image);
        Assert.Null(parameters.ExposedPorts);
        Assert.Null(parameters.HostConfig.PortBindings);
        Assert.Equal(["CAP_SYS_ADMIN"], parameters.HostConfig.CapAdd);
        Assert.Equal("private", parameters.HostConfig.CgroupnsMode);
        Assert.Equal(ClusterContainerSpec.StateDirectories, parameters.HostConfig.Mounts.Select(m => m.Target));
        Assert.All(parameters.HostConfig.Mounts, m => Assert.Equal("Kd_1", m.VolumeOptions.Labels[KubeDindLabels.Cluster]));
        Assert.Equal("net-x", parameters.HostConfig.NetworkMode);
        Assert.Equal(["Kd_1-agent-2"], parameters.NetworkingConfig.EndpointsConfig["net-x"].Aliases);

        // Labelled like the server (Teardown and Sweep find it by these), plus its node.
        Assert.Equal(KubeDindLabels.OwnerValue, parameters.Labels[KubeDindLabels.Owner]);
        Assert.Equal(ClusterContainerSpec.Role, parameters.Labels[KubeDindLabels.Role]);
        Assert.Equal("run1", parameters.Labels[KubeDindLabels.RunId]);
        Assert.Equal("Kd_1", parameters.Labels[KubeDindLabels.Cluster]);
        Assert.Equal("agent-2", parameters.Labels[KubeDindLabels.Node]);
        Assert.Equal("a", parameters.Labels["team"]);

        Assert.Contains("KUBEDIND_ROLE=agent", parameters.Env);
        Assert.Contains("K3S_URL=https://Kd_1:6443", parameters.Env);
        Assert.Contains("K3S_TOKEN=K10abc::server:secret", parameters.Env);
        Assert.Contains("KUBEDIND_NODE_NAME=kd-1-agent-2", parameters.Env);
        Assert.Contains("KUBEDIND_NODES=Kd_1,Kd_1-agent-1,Kd_1-agent-2", parameters.Env);
        Assert.Contains("KUBEDIND_NODE_INDEX=2", parameters.Env);
        Assert.Contains("KUBEDIND_CLUSTER_CIDR=10.42.0.0/16", parameters.Env);
        Assert.Contains("EXTRA=1", parameters.Env);
    }

    [Fact]
    public void The_server_of_several_nodes_is_told_about_them_and_a_single_node_is_not()
    {
        var multi = new ClusterContainerSpec("c1", "img:1", TwoAgents with { K3sArgs = ["--cluster-cidr", "10.60.0.0/20"] }, "run1").ToParameters(PrivilegeMode.Privileged);
        Assert.Contains("KUBEDIND_NODES=c1,c1-agent-1,c1-agent-2", multi.Env);
        Assert.Contains("KUBEDIND_NODE_INDEX=0", multi.Env);
        Assert.Contains("KUBEDIND_CLUSTER_CIDR=10.60.0.0/20", multi.Env);
        Assert.False(multi.Labels.ContainsKey(KubeDindLabels.Node));

        var single = new ClusterContainerSpec("c1", "img:1", TwoAgents with { Agents = 0 }, "run1").ToParameters(PrivilegeMode.Privileged);
        Assert.DoesNotContain(single.Env, e => e.StartsWith("KUBEDIND_NODE", StringComparison.Ordinal) || e.StartsWith("KUBEDIND_CLUSTER_CIDR", StringComparison.Ordinal));
    }

    [Fact]
    public void An_agent_pulls_localhost_5000_from_the_servers_registry_and_takes_only_agent_flags()
    {
        var registries = JsonNode.Parse(K3sConfiguration.RegistriesJson("c1", TwoAgents, K3sConfiguration.ServerRegistry("c1")))!;
        Assert.Equal("http://c1:5000", (string?)registries["mirrors"]!["localhost:5000"]!["endpoint"]![0]);
        Assert.Equal("http://kubedind-mirror:5000", (string?)registries["mirrors"]!["docker.io"]!["endpoint"]![0]);
        Assert.Equal("http://127.0.0.1:5000", (string?)JsonNode.Parse(K3sConfiguration.RegistriesJson("c1", TwoAgents))!["mirrors"]!["localhost:5000"]!["endpoint"]![0]);

        var config = JsonNode.Parse(K3sConfiguration.AgentConfigJson("c1", TwoAgents))!.AsObject();
        Assert.Equal(["kubelet-arg", "node-label"], config.Select(p => p.Key));
        Assert.Equal("v=2", (string?)config["kubelet-arg"]);
    }

    [Theory]
    [InlineData(-1, null, "Agents = -1 is out of range")]
    [InlineData(17, null, "Agents = 17 is out of range")]
    [InlineData(2, "10.42.0.0/25", "has no /24 for each of the 3 nodes")]
    [InlineData(4, "10.42.0.0/23", "has no /24 for each of the 5 nodes")]
    [InlineData(1, "fd00::/48", "needs an IPv4 pod network")]
    public void Bad_agent_settings_are_one_line_naming_them(int agents, string? cidr, string expected)
    {
        var settings = new ClusterSettings { Agents = agents, K3sArgs = cidr is null ? [] : [$"--cluster-cidr={cidr}"] };
        var error = Assert.Throws<KubeDindException>(() => K3sConfiguration.Validate("c1", settings));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData(3, "10.50.0.0/22", "10.50.0.0/22")]
    [InlineData(16, null, "10.42.0.0/16")]
    public void A_pod_network_with_a_24_per_node_is_accepted_and_handed_to_every_node(int agents, string? cidr, string expectedCidr)
    {
        var settings = new ClusterSettings { Agents = agents, K3sArgs = cidr is null ? [] : [$"--cluster-cidr={cidr}"] };

        K3sConfiguration.Validate("c1", settings);

        var server = new ClusterContainerSpec("c1", "img:1", settings, "run1").ToParameters(PrivilegeMode.Privileged);
        Assert.Contains($"KUBEDIND_CLUSTER_CIDR={expectedCidr}", server.Env);
        Assert.Contains("KUBEDIND_NODES=" + string.Join(',', ["c1", .. Enumerable.Range(1, agents).Select(i => $"c1-agent-{i}")]), server.Env);
        Assert.Equal(cidr, (string?)JsonNode.Parse(K3sConfiguration.ConfigJson("c1", settings))!["cluster-cidr"]);
    }

    [Fact]
    public void The_saved_state_key_depends_on_the_number_of_agents()
    {
        var one = ClusterStateKey.For(new ClusterSettings(), "sha256:i", "v1.21.2");
        var three = ClusterStateKey.For(new ClusterSettings { Agents = 2 }, "sha256:i", "v1.21.2");
        Assert.Contains(three.Parts, p => p.Key == "agents" && p.Value == "2");
        Assert.NotEqual(one.Hash, three.Hash);
        Assert.Equal(["agents"], three.DifferencesFrom(one.ToLabels()));
    }

    [Fact]
    public void Timings_show_the_agents_start_as_its_own_phase()
    {
        static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);
        var timings = new ClusterTimings(S(1), S(3), [("node Ready", S(20)), ("node Ready: c1-agent-1", S(30))], S(31)) { AgentsStarted = S(10) };
        Assert.Equal(
            [("image", S(1)), ("container start", S(2)), ("agents start", S(7)), ("node Ready", S(10)), ("node Ready", S(10)), ("kubeconfig and result", S(1))],
            timings.Phases());
        Assert.Contains("agents started 10.0s", timings.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("agents", (timings with { AgentsStarted = null }).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_multi_node_cluster_starts_cold_and_says_why()
    {
        using var session = await KubeDindSession.ConnectAsync(new CapturingLog(), cancellationToken: TestContext.Current.CancellationToken);
        var context = new ClusterStartContext(session, new ClusterSettings { Agents = 2, WarmStart = true }) { Image = "any:1" };

        var warm = await ClusterWarmStart.PrepareAsync(context, TestContext.Current.CancellationToken);

        Assert.False(warm.Restored);
        Assert.Equal("cold start: a multi-node cluster (2 agents) always starts cold; warm starts are for one node", warm.Description);
    }

    [Theory]
    [InlineData("kubedind-abc-agent-1", "kubedind-abc-agent-1")]
    [InlineData("My_Cluster.x-agent-1", "my-cluster-x-agent-1")]
    public void Node_names_are_dns_labels(string container, string node) => Assert.Equal(node, ClusterAgentSpec.ToNodeName(container));
}
