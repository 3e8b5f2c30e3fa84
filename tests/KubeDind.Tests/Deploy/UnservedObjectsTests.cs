using KubeDind.Cluster;
using KubeDind.Deploy;

namespace KubeDind.Tests.Deploy;

/// <summary>Objects the API accepts but nothing in the cluster acts on are named, one line per kind, from the components the image reports.</summary>
public sealed class UnservedObjectsTests
{
    private const string Manifests = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: { name: deny-all, namespace: shop }
        spec: { podSelector: {} }
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: { name: allow-web, namespace: shop }
        spec: { podSelector: { matchLabels: { app: web } } }
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: { name: web, namespace: shop }
        spec: { defaultBackend: { service: { name: web, port: { number: 80 } } } }
        ---
        apiVersion: v1
        kind: Service
        metadata: { name: web, namespace: shop }
        spec: { type: LoadBalancer, ports: [{ port: 80 }] }
        ---
        apiVersion: v1
        kind: Service
        metadata: { name: db, namespace: shop }
        spec: { ports: [{ port: 5432 }] }
        ---
        apiVersion: autoscaling/v2beta2
        kind: HorizontalPodAutoscaler
        metadata: { name: web, namespace: shop }
        spec: { scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: web }, maxReplicas: 3 }
        """;

    [Fact]
    public void Each_kind_nothing_serves_is_named_once_with_its_objects_and_what_to_do()
    {
        var components = new[]
        {
            Component("network-policy", "none", "k3s runs without its network policy controller"),
            Component("ingress", "none", "disabled in /etc/rancher/k3s/config.yaml"),
            Component("load-balancer", "none", "disabled in /etc/rancher/k3s/config.yaml"),
            Component("metrics", "none", "image unavailable"),
        };

        var lines = UnservedObjects.Describe(ManifestReader.ReadText(Manifests, "app.yaml"), components);

        Assert.Equal(
            [
                "NetworkPolicy shop/deny-all, shop/allow-web: applied but not enforced: traffic it would block flows, so a test here cannot show the policy is right (network-policy is off here: k3s runs without its network policy controller).",
                "Ingress shop/web: no ingress controller serves it (ingress is off here: disabled in /etc/rancher/k3s/config.yaml); reach its backend Service with OpenService (a published node port or a port-forward), or turn Traefik on (ClusterSettings.Traefik, given its image).",
                "LoadBalancer Service shop/web: gets no external address (load-balancer is off here: disabled in /etc/rancher/k3s/config.yaml); reach it by its node port or with OpenService, or turn ServiceLB on (ClusterSettings.ServiceLoadBalancer, given its image).",
                "HorizontalPodAutoscaler shop/web: never scales: nothing measures the pods, so its workload keeps the replicas it was applied with (metrics is off here: image unavailable); metrics-server runs given its image (ClusterSettings.AirgapImages or a mirror).",
            ],
            lines);
    }

    [Fact]
    public void Running_components_and_clusters_that_report_none_name_nothing()
    {
        var running = new[]
        {
            Component("ingress", "traefik", "air-gap images"),
            Component("load-balancer", "servicelb", "air-gap images"),
            Component("metrics", "metrics-server", "air-gap images"),
        };

        Assert.Empty(UnservedObjects.Describe(ManifestReader.ReadText(Manifests, "app.yaml"), running));
        Assert.Empty(UnservedObjects.Describe(ManifestReader.ReadText(Manifests, "app.yaml"), []));
    }

    private static ClusterComponent Component(string role, string implementation, string detail) =>
        new(role, implementation, false, detail, []) { TurnedOffByUser = false };
}
