using System.Text.Json;
using Docker.DotNet;
using KubeDind.Docker;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// A node's running kube-proxy configuration, as <c>/configz</c> on its metrics port (loopback, inside the node's
/// container) reports it. k3s runs every component in one process and so serves all their configurations there;
/// kube-proxy's is its internal type ("IPTables"/"MinSyncPeriod" in 1.21), so names are matched ignoring case.
/// </summary>
public sealed record KubeProxyConfig(string IptablesMinSyncPeriod)
{
    public static async Task<KubeProxyConfig> ReadAsync(IDockerClient docker, string nodeContainerId, CancellationToken cancellationToken)
    {
        var configz = await ContainerExec.RunAsync(docker, nodeContainerId, ["curl", "-fsS", "http://127.0.0.1:10249/configz"], cancellationToken: cancellationToken);
        Assert.True(configz.Succeeded, $"kube-proxy's configz: {configz.FirstErrorLine}");
        using var document = JsonDocument.Parse(configz.StandardOutput);
        return Find(document.RootElement, "kubeproxy.config.k8s.io") is { } config && Find(config, "iptables") is { } iptables && Find(iptables, "minSyncPeriod") is { } period
            ? new KubeProxyConfig(period.GetString() ?? string.Empty)
            : throw new InvalidOperationException($"kube-proxy's configz has no kubeproxy.config.k8s.io.iptables.minSyncPeriod: {configz.StandardOutput}");
    }

    private static JsonElement? Find(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) is { Value.ValueKind: not JsonValueKind.Undefined } found
            ? found.Value
            : null;
}
