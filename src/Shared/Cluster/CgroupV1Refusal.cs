namespace KubeDind.Cluster;

/// <summary>
/// A kubelet that refuses to run on cgroup v1: Kubernetes 1.31 put cgroup v1 in maintenance mode and added the kubelet
/// setting <c>failCgroupV1</c> (flag <c>--fail-cgroupv1</c>); from 1.35 it defaults to true, and the kubelet's
/// configuration check fails with "kubelet is configured to not run on a host using cgroup v1" (pkg/kubelet/kubelet.go),
/// which k3s logs as the kubelet's exit before it shuts down. Found in k3s's log, it becomes one line saying what to do.
/// </summary>
public static class CgroupV1Refusal
{
    /// <summary>The kubelet's own words, as Kubernetes 1.31 and later log them.</summary>
    public const string KubeletMessage = "kubelet is configured to not run on a host using cgroup v1";

    /// <summary>The k3s argument that lets such a kubelet run on cgroup v1 anyway.</summary>
    public const string AllowArgument = "--kubelet-arg=fail-cgroupv1=false";

    /// <summary>A one-line error for cluster <paramref name="clusterName"/> when <paramref name="k3sLog"/> holds the refusal; null otherwise.</summary>
    public static string? Explain(string clusterName, string? k3sLog, string? k3sVersion)
    {
        if (k3sLog is null || !k3sLog.Contains(KubeletMessage, StringComparison.Ordinal))
        {
            return null;
        }

        return $"cluster {clusterName}: the kubelet of k3s {k3sVersion ?? "(version unknown)"} refuses this host's cgroup v1 (\"{KubeletMessage}\"); run on a host with cgroup v2, choose k3s v1.34 or older (ClusterSettings.K3sVersion), or add \"{AllowArgument}\" to ClusterSettings.K3sArgs (cgroup v1 is in maintenance mode since Kubernetes 1.31).";
    }
}
