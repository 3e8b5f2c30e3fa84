using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// Deploy binds the claims it applies before the workloads that mount them, on the shared real cluster
/// (<see cref="RealClusterFixture"/>), whose default StorageClass binds at once: the scheduler never sees the pod
/// with its claim unbound, so it never fails it and waits out its backoff.
/// </summary>
public sealed class ClaimBindingTests(RealClusterFixture fixture)
{
    private KubeDindCluster Cluster => fixture.Cluster ?? throw new InvalidOperationException("no cluster");

    [Fact]
    public async Task A_workload_is_applied_once_the_claim_it_mounts_is_bound_and_its_pod_is_scheduled_at_the_first_try()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(ClusterTestSupport.NoK3sReason);
        }

        var ct = TestContext.Current.CancellationToken;
        var ns = $"kdt-claims-{Guid.NewGuid().ToString("N")[..6]}";
        const string Claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: data }\nspec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Mi } } }\n";
        var db = TestManifests.Deployment("db", fixture.Image, "[sleep, '3600']", "[{ name: data, persistentVolumeClaim: { claimName: data } }]", "volumeMounts: [{ name: data, mountPath: /data }]");
        var web = TestManifests.Deployment("web", fixture.Image, "[sleep, '3600']");
        try
        {
            await Cluster.DeployAsync(new DeploySettings { InlineManifests = [db, Claim, web], Namespace = ns, Timeout = TimeSpan.FromMinutes(3) }, ct);

            var lines = fixture.Log.Lines.Select(l => l.Message).ToList();
            var bound = lines.FindIndex(l => l.StartsWith($"PersistentVolumeClaim {ns}/data bound after ", StringComparison.Ordinal));
            Assert.True(bound >= 0, $"no line saying the claim was bound before its workload; the deploy said:\n{string.Join('\n', lines.Where(l => l.Contains(ns, StringComparison.Ordinal)))}");
            Assert.True(lines.FindIndex(l => l == $"Deployment {ns}/web created") < bound, "the workload without a claim waited for it");
            Assert.True(lines.FindIndex(l => l == $"Deployment {ns}/db created") > bound, "the workload was applied before its claim was bound");

            var events = await Cluster.Kubernetes.CoreV1.ListNamespacedEventAsync(ns, cancellationToken: ct);
            Assert.DoesNotContain(events.Items, e => e.Reason == "FailedScheduling");
        }
        finally
        {
            await Cluster.Kubernetes.CoreV1.DeleteNamespaceAsync(ns, cancellationToken: CancellationToken.None);
        }
    }
}
