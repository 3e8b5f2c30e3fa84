using KubeDind.Cluster;

namespace KubeDind.Deploy;

/// <summary>
/// Objects the API accepts but nothing in this cluster acts on, named before the deploy waits, so a test that relies on
/// one does not fail (or pass) for a reason the log never gave: a NetworkPolicy where no controller enforces policies,
/// an Ingress where no ingress controller runs, a LoadBalancer Service where no load balancer hands out addresses, a
/// HorizontalPodAutoscaler where no metrics-server measures. Decided from the components the cluster image reports
/// (<see cref="ClusterComponent"/>), never from the object's status: an Ingress is never "ready" on a real cluster either.
/// </summary>
internal static class UnservedObjects
{
    private sealed record Rule(string Role, string What, Func<ManifestObject, bool> Matches, string Consequence, string? Remedy);

    private static readonly Rule[] Rules =
    [
        new("network-policy", "NetworkPolicy", m => m.Kind == "NetworkPolicy" && m.Group == "networking.k8s.io",
            "applied but not enforced: traffic it would block flows, so a test here cannot show the policy is right", null),
        new("ingress", "Ingress", m => m.Kind == "Ingress" && m.Group is "networking.k8s.io" or "extensions",
            "no ingress controller serves it",
            "reach its backend Service with OpenService (a published node port or a port-forward), or turn Traefik on (ClusterSettings.Traefik, given its image)"),
        new("load-balancer", "LoadBalancer Service", m => m.Kind == "Service" && m.Group == string.Empty && ServiceType(m) == "LoadBalancer",
            "gets no external address",
            "reach it by its node port or with OpenService, or turn ServiceLB on (ClusterSettings.ServiceLoadBalancer, given its image)"),
        new("metrics", "HorizontalPodAutoscaler", m => m.Kind == "HorizontalPodAutoscaler" && m.Group == "autoscaling",
            "never scales: nothing measures the pods, so its workload keeps the replicas it was applied with",
            "metrics-server runs given its image (ClusterSettings.AirgapImages or a mirror)"),
    ];

    /// <summary>One line per kind of unserved object in <paramref name="manifests"/>, naming them, why, and what to do.</summary>
    public static IReadOnlyList<string> Describe(IEnumerable<ManifestObject> manifests, IReadOnlyList<ClusterComponent> components)
    {
        var objects = manifests.ToList();
        var lines = new List<string>();
        foreach (var rule in Rules)
        {
            if (components.FirstOrDefault(c => c.Role == rule.Role) is not { IsRunning: false } off)
            {
                continue;
            }

            var names = objects.Where(rule.Matches).Select(m => m.Namespace is { Length: > 0 } ns ? $"{ns}/{m.Name}" : m.Name).ToList();
            if (names.Count > 0)
            {
                lines.Add($"{rule.What} {string.Join(", ", names)}: {rule.Consequence} ({rule.Role} is off here: {off.Detail})" + (rule.Remedy is null ? "." : $"; {rule.Remedy}."));
            }
        }

        return lines;
    }

    private static string? ServiceType(ManifestObject service) => ManifestObject.TextOf(ManifestObject.ValueOf(service.Document, "spec"), "type");
}
