using Docker.DotNet;
using KubeDind.Docker;

namespace KubeDind.Deploy;

/// <summary>What kube-proxy on one node routes now; <see cref="Rules"/> is null when they cannot be read.</summary>
internal sealed record NodeRoutes(string Node, KubeProxyRules? Rules);

/// <summary>Reads kube-proxy's rules on every node of a cluster; supplied by the cluster because that means exec into its containers.</summary>
internal interface INodeRoutesReader
{
    Task<IReadOnlyList<NodeRoutes>> ReadAsync(CancellationToken cancellationToken);
}

/// <summary>Each node is a container of its own with its own network namespace, so each is read by exec in that container.</summary>
internal sealed class ContainerNodeRoutes(IDockerClient docker, IReadOnlyList<(string Node, string ContainerId)> nodes) : INodeRoutesReader
{
    public async Task<IReadOnlyList<NodeRoutes>> ReadAsync(CancellationToken cancellationToken) =>
        await Task.WhenAll(nodes.Select(async node =>
        {
            try
            {
                var saved = await ContainerExec.RunAsync(docker, node.ContainerId, ["iptables-save", "-t", "nat"], cancellationToken: cancellationToken).ConfigureAwait(false);
                return new NodeRoutes(node.Node, saved.Succeeded ? KubeProxyRules.Parse(saved.StandardOutput) : null);
            }
            catch (DockerApiException)
            {
                // A node container that cannot be read (stopped, gone) is reported by the node's own readiness, not here.
                return new NodeRoutes(node.Node, null);
            }
        })).ConfigureAwait(false);
}
