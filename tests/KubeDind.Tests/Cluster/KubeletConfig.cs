using System.Text.Json;
using k8s;

namespace KubeDind.Tests.Cluster;

/// <summary>A node's running kubelet configuration, as its <c>/configz</c> endpoint reports it through the API server's node proxy.</summary>
public sealed record KubeletConfig(int KubeApiQps, int KubeApiBurst)
{
    public static async Task<KubeletConfig> ReadAsync(IKubernetes kubernetes, string node, CancellationToken cancellationToken)
    {
        await using var body = await kubernetes.CoreV1.ConnectGetNodeProxyWithPathAsync(node, "configz", cancellationToken: cancellationToken);
        using var document = await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken);
        var config = document.RootElement.GetProperty("kubeletconfig");
        return new KubeletConfig(config.GetProperty("kubeAPIQPS").GetInt32(), config.GetProperty("kubeAPIBurst").GetInt32());
    }
}
