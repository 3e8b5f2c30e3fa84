using KubeDind.Cluster;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// A cluster whose user turned k3s's CoreDNS and local-storage off (K3sArgs --disable): no cluster DNS and no default
/// StorageClass will ever come, so their readiness gates pass at once and say so, in the core and in kubedind-ready; and
/// a claim with nothing to bind it fails Deploy fast with its cause (a cluster of its own, so no test changes the
/// StorageClasses of a cluster others share). Needs a real k3s (KUBEDIND_K3S_BINARY); skipped with the reason without it.
/// </summary>
[Collection("Cluster")]
public sealed class DisabledComponentTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Dns_and_storage_turned_off_by_K3sArgs_pass_their_gates_at_once_and_a_claim_with_nothing_to_bind_fails_deploy_fast()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(ClusterTestSupport.NoK3sReason);
        }

        var log = new CapturingLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await using var cluster = await session.StartClusterAsync(
            ClusterTestSupport.KubernetesSettings("off") with { K3sArgs = ["--disable=coredns,local-storage"] },
            Ct);
        output.WriteLine($"ready after {watch.Elapsed.TotalSeconds:0.0}s; {cluster.Timings}");

        Assert.Contains(cluster.Components, c => c.Role == "dns" && c.Implementation == "none");
        Assert.Contains(cluster.Components, c => c.Role == "storage" && c.Implementation == "none");
        Assert.Single(log.Lines, l => l.Message.StartsWith($"cluster {cluster.Name}: cluster DNS: off (disabled in /etc/rancher/k3s/config.yaml by K3sArgs); pods cannot resolve Service names (gate 'cluster DNS answers' passed at ", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Message.StartsWith($"cluster {cluster.Name}: storage: off (disabled in /etc/rancher/k3s/config.yaml by K3sArgs); no default StorageClass", StringComparison.Ordinal));


        var ready = await cluster.ExecAsync(["kubedind-ready"], null, Ct);
        output.WriteLine(ready.StandardOutput);
        Assert.True(ready.Succeeded, ready.StandardOutput);
        // The HEALTHCHECK does not judge DNS or storage; the image's status document says the user turned them off.
        var status = KubeDind.Cluster.InnerReadiness.Parse(ready, cluster.Image).Image!;
        Assert.Equal("disabled in /etc/rancher/k3s/config.yaml", status.TurnedOff("dns")?.Detail);
        Assert.Equal("disabled in /etc/rancher/k3s/config.yaml", status.TurnedOff("storage")?.Detail);
        Assert.Null(status.TurnedOff("metrics"));

        // A claim naming no StorageClass on a cluster with no default one and no PersistentVolume never binds.
        const string ns = "kdt-pvc";
        var claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: data }\nspec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Mi } } }\n";
        // The pod stays Pending on its unbound claim, so its image is never pulled.
        var workload = Deploy.TestManifests.Deployment("db", "localhost:5000/never-pulled:1", "[sleep, '3600']", volumes: "[{ name: data, persistentVolumeClaim: { claimName: data } }]", "volumeMounts: [{ name: data, mountPath: /data }]");
        var ex = await Assert.ThrowsAsync<KubeDind.Deploy.DeployFailedException>(() => cluster.DeployAsync(new KubeDind.Deploy.DeploySettings { InlineManifests = [claim, workload], Namespace = ns, Timeout = TimeSpan.FromMinutes(3) }, Ct));
        output.WriteLine(ex.Message);
        Assert.StartsWith($"db: PersistentVolumeClaim {ns}/data names no StorageClass and the cluster has no default StorageClass nor a PersistentVolume to bind it to", Assert.Single(ex.Diagnostics!.Summary), StringComparison.Ordinal);
    }
}
