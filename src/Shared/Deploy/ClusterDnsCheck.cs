using k8s;
using KubeDind.Logging;

namespace KubeDind.Deploy;

/// <summary>
/// Says in the log when no cluster DNS answers (no ready endpoint behind <c>kube-system/kube-dns</c>): pods then
/// wait for their resolver's timeout (~5 s) on every name lookup, which otherwise looks like a slow or hung app.
/// </summary>
internal static class ClusterDnsCheck
{
    public static async Task<bool> ExplainIfMissingAsync(IKubernetes client, IKubeDindLog log, string clusterName, CancellationToken cancellationToken)
    {
        var endpoints = await client.ReadOrNullAsync("Deploy: reading kube-system/kube-dns endpoints", c => c.CoreV1.ReadNamespacedEndpointsAsync("kube-dns", "kube-system", cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (endpoints?.Subsets?.Any(s => s.Addresses is { Count: > 0 }) == true)
        {
            return true;
        }

        log.Warn($"Deploy to {clusterName}: no cluster DNS answers (kube-system/kube-dns {(endpoints is null ? "does not exist" : "has no ready endpoint")}; k3s's CoreDNS stays off without its air-gap images), so every name lookup in a pod waits ~5 s for the resolver to time out; give the cluster k3s's air-gap images, or reach Services by the *_SERVICE_HOST environment variables.");
        return false;
    }
}
