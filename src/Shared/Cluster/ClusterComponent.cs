using System.Text.Json.Serialization;

namespace KubeDind.Cluster;

/// <summary>
/// One of the cluster's services as it runs: k3s's packaged component, KubeDind's offline fallback, or none.
/// </summary>
/// <param name="Role">dns, storage, metrics, ingress or load-balancer.</param>
/// <param name="Implementation">coredns, local-path-provisioner, metrics-server, traefik, servicelb; the fallbacks dnsmasq (DNS) and host-path (storage); none when off.</param>
/// <param name="IsFallback">True for KubeDind's own fallback (used where the component's image is neither in an air-gap tarball nor pullable).</param>
/// <param name="Detail">Why this one runs: "air-gap images", "pulled through ...", the fallback's reason, or why it is off.</param>
/// <param name="Pods">Name prefixes of the kube-system pods it runs (the kube-system readiness gate waits for them).</param>
public sealed record ClusterComponent(string Role, string Implementation, [property: JsonPropertyName("fallback")] bool IsFallback, string Detail, IReadOnlyList<string> Pods)
{
    /// <summary>True when the user turned it off (k3s's <c>--disable</c> in K3sArgs): nothing runs, and its readiness gate has nothing to wait for.</summary>
    [JsonRequired]
    public bool TurnedOffByUser { get; init; }

    public bool IsRunning => Implementation != "none";

    /// <summary>"dns=dnsmasq (KubeDind fallback)", "storage=local-path-provisioner", "metrics=none".</summary>
    public override string ToString() => $"{Role}={Implementation}{(IsFallback ? " (KubeDind fallback)" : string.Empty)}";
}
