using KubeDind.Deploy;

namespace KubeDind.Tests.Deploy;

/// <summary>Which workloads Deploy holds back until their claims are bound, read from the manifests alone.</summary>
public sealed class ClaimBindingOrderTests
{
    private const string Manifests = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: { name: db }
        spec:
          replicas: "1"
          selector: { matchLabels: { app: db } }
          template:
            metadata: { labels: { app: db } }
            spec:
              containers: [{ name: db, image: redis }]
              volumes: [{ name: data, persistentVolumeClaim: { claimName: data } }, { name: config, configMap: { name: db } }]
        ---
        apiVersion: v1
        kind: Pod
        metadata: { name: tool, namespace: ops }
        spec:
          containers: [{ name: tool, image: busybox }]
          volumes: [{ name: scratch, persistentVolumeClaim: { claimName: scratch } }]
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: { name: web }
        spec:
          selector: { matchLabels: { app: web } }
          template:
            metadata: { labels: { app: web } }
            spec: { containers: [{ name: web, image: nginx }] }
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: { name: data }
        spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Mi } } }
        """;

    [Fact]
    public void The_claims_a_workload_mounts_are_read_from_its_pod_template_even_where_a_typed_model_would_refuse_it()
    {
        var objects = ManifestReader.ReadText(Manifests, "test");

        Assert.Equal([("shop", "data")], ClaimBinding.MountedBy(objects[0], "shop"));
        Assert.Equal([("ops", "scratch")], ClaimBinding.MountedBy(objects[1], "shop"));
        Assert.Empty(ClaimBinding.MountedBy(objects[2], "shop"));
    }

    [Fact]
    public void Workloads_mounting_a_claim_of_the_same_deploy_go_after_the_others()
    {
        var ordered = ManifestOrder.Sort(ManifestReader.ReadText(Manifests, "test"));

        var order = ClaimBinding.Order(ordered, "shop");

        Assert.Equal(["PersistentVolumeClaim data", "Pod tool", "Deployment web", "Deployment db"], order.Manifests.Select(m => $"{m.Kind} {m.Name}"));
        Assert.Equal(["Deployment db"], order.Mounts.Keys.Select(m => $"{m.Kind} {m.Name}"));
        Assert.Equal([("shop", "data")], order.Mounts.Values.Single());
    }
}
