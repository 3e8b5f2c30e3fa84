using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Tests.Deploy;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// KubeDind's storage fallback binds a claim on both sides itself (the volume made for the claim, the claim naming the
/// volume, both Bound), so a claim does not wait for the controller manager's volume binder, which starts seconds after
/// the API. Shown on a cluster of its own with that binder turned off (K3sArgs): a pod mounting the claim runs all the
/// same. Needs a real k3s (KUBEDIND_K3S_BINARY); skipped with the reason without it.
/// </summary>
[Collection("Cluster")]
public sealed class StorageFallbackBindingTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_claim_of_the_fallback_is_bound_and_mounted_without_the_controller_managers_volume_binder()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(ClusterTestSupport.NoK3sReason);
        }

        var log = new CapturingLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        await using var cluster = await session.StartClusterAsync(
            ClusterTestSupport.KubernetesSettings("nobinder") with { K3sArgs = ["--kube-controller-manager-arg=controllers=*,-persistentvolume-binder"] },
            Ct);
        output.WriteLine(cluster.Timings.ToString());
        Assert.Contains(cluster.Components, c => c.Role == "storage" && c.IsFallback);

        const string Ns = "kdt-nobinder";
        const string Claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: { name: data }\nspec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Mi } } }\n";
        // The sandbox image every KubeDind cluster imports at start: a pod that runs without a push.
        var workload = TestManifests.Deployment("db", "docker.io/kubedind/pause:3.10", null, "[{ name: data, persistentVolumeClaim: { claimName: data } }]", "imagePullPolicy: Never", "volumeMounts: [{ name: data, mountPath: /data }]");
        await cluster.DeployAsync(new DeploySettings { InlineManifests = [Claim, workload], Namespace = Ns, Timeout = TimeSpan.FromMinutes(2) }, Ct);

        var claim = await cluster.Kubernetes.CoreV1.ReadNamespacedPersistentVolumeClaimAsync("data", Ns, cancellationToken: Ct);
        Assert.Equal("Bound", claim.Status?.Phase);
        Assert.Equal("1Mi", claim.Status?.Capacity?["storage"].ToString());
        var volume = await cluster.Kubernetes.CoreV1.ReadPersistentVolumeAsync(claim.Spec.VolumeName, cancellationToken: Ct);
        Assert.Equal("Bound", volume.Status?.Phase);
        Assert.Equal(claim.Metadata.Uid, volume.Spec.ClaimRef?.Uid);
        Assert.Contains(log.Lines, l => l.Message.StartsWith($"PersistentVolumeClaim {Ns}/data bound after ", StringComparison.Ordinal));
    }
}
