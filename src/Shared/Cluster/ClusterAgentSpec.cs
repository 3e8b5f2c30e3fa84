using System.Globalization;
using System.Text;
using Docker.DotNet.Models;
using KubeDind.Docker;

namespace KubeDind.Cluster;

/// <summary>One agent node of a multi-node cluster (<see cref="ClusterSettings.Agents"/>), as the engine runs it.</summary>
/// <param name="Name">The agent's container name, <c>&lt;cluster&gt;-agent-&lt;n&gt;</c>.</param>
/// <param name="ContainerId">Its container.</param>
/// <param name="NodeName">Its Kubernetes node name.</param>
public sealed record ClusterAgent(string Name, string ContainerId, string NodeName);

/// <summary>
/// Every fact of an agent container of a multi-node cluster, beside <see cref="ClusterContainerSpec"/> (the server) and
/// computed the same way, without the engine: the same image and privilege set, no published ports, labelled like the
/// server (role, run, cluster; so Teardown and Sweep find it) plus its node label, and told by environment to run
/// <c>k3s agent</c> joining the server at <c>https://&lt;server&gt;:6443</c> with <paramref name="Token"/>. Node
/// <paramref name="Index"/> (1..n; the server is 0) hands out the <paramref name="Index"/>th /24 of the pod network.
/// </summary>
public sealed record ClusterAgentSpec(ClusterContainerSpec Server, int Index, string Token)
{
    /// <summary>The agent's container name: <c>&lt;cluster&gt;-agent-&lt;index&gt;</c>.</summary>
    public string Name => AgentName(Server.Name, Index);

    /// <summary>The Kubernetes node name: the container name as a DNS label (lower case, at most 63 characters).</summary>
    public string NodeName => ToNodeName(Name);

    /// <summary>The container name of agent <paramref name="index"/> of cluster <paramref name="cluster"/>.</summary>
    public static string AgentName(string cluster, int index) => string.Create(CultureInfo.InvariantCulture, $"{cluster}-agent-{index}");

    /// <summary>A container name as a node name: lower case, characters outside [a-z0-9-] as '-', at most 63, no '-' at the ends.</summary>
    public static string ToNodeName(string containerName)
    {
        ArgumentNullException.ThrowIfNull(containerName);
        var text = new StringBuilder(containerName.Length);
        foreach (var c in containerName.ToLowerInvariant())
        {
            text.Append(c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' ? c : '-');
        }

        var name = text.ToString();
        return (name.Length > 63 ? name[^63..] : name).Trim('-');
    }

    public CreateContainerParameters ToParameters(PrivilegeMode mode, IReadOnlyList<string>? capabilities = null)
    {
        var settings = Server.Settings;
        var labels = new Dictionary<string, string>(settings.Labels);
        foreach (var (key, value) in KubeDindLabels.ForResource(ClusterContainerSpec.Role, Server.RunId))
        {
            labels[key] = value;
        }

        labels[KubeDindLabels.Cluster] = Server.Name;
        labels[KubeDindLabels.Node] = string.Create(CultureInfo.InvariantCulture, $"agent-{Index}");
        var volumeLabels = KubeDindLabels.ForResource(ClusterContainerSpec.Role + "-volume", Server.RunId);
        volumeLabels[KubeDindLabels.Cluster] = Server.Name;
        var environment = new Dictionary<string, string>(settings.Environment);
        foreach (var (key, value) in Server.NodeEnvironment(Index))
        {
            environment[key] = value;
        }

        environment["KUBEDIND_KUBERNETES"] = "true";
        environment["KUBEDIND_ROLE"] = "agent";
        environment["KUBEDIND_NODE_NAME"] = NodeName;
        environment["K3S_URL"] = string.Create(CultureInfo.InvariantCulture, $"https://{Server.Name}:{ClusterContainerSpec.ApiContainerPort}");
        environment["K3S_TOKEN"] = Token;
        return new CreateContainerParameters
        {
            Name = Name,
            Hostname = NodeName,
            Image = Server.Image,
            Env = environment.Select(kv => $"{kv.Key}={kv.Value}").ToList(),
            Labels = labels,
            HostConfig = ClusterContainerSpec.WithPrivileges(
                new HostConfig
                {
                    NetworkMode = settings.NetworkOrDefault,
                    RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
                },
                mode,
                capabilities,
                volumeLabels),
            NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings> { [settings.NetworkOrDefault] = new EndpointSettings { Aliases = [Name] } },
            },
        };
    }
}
