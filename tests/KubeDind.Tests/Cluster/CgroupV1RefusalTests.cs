using KubeDind.Cluster;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// A kubelet that refuses cgroup v1 (Kubernetes 1.35+ by default) cannot run on this machine kind; the detection is
/// checked on k3s log lines as k3s writes them, the kubelet's error text taken from its source (pkg/kubelet/kubelet.go).
/// </summary>
public sealed class CgroupV1RefusalTests
{
    private const string K3sLog = """
        time="2026-01-10T10:00:01Z" level=info msg="Running kubelet --address=0.0.0.0 --cgroup-driver=cgroupfs ..."
        E0110 10:00:02.123456      52 run.go:72] "command failed" err="failed to validate kubelet configuration, error: kubelet is configured to not run on a host using cgroup v1. cgroup v1 support is unsupported and will be removed in a future release, path: &TypeMeta{Kind:,APIVersion:,}"
        time="2026-01-10T10:00:02Z" level=error msg="Shutdown request received: kubelet exited: failed to validate kubelet configuration, error: kubelet is configured to not run on a host using cgroup v1. cgroup v1 support is unsupported and will be removed in a future release"
        """;

    [Fact]
    public void The_refusal_in_k3s_log_becomes_one_line_saying_what_to_do()
    {
        var message = CgroupV1Refusal.Explain("kdt", K3sLog, "v1.35.0+k3s1");

        Assert.Equal(
            "cluster kdt: the kubelet of k3s v1.35.0+k3s1 refuses this host's cgroup v1 (\"kubelet is configured to not run on a host using cgroup v1\"); run on a host with cgroup v2, choose k3s v1.34 or older (ClusterSettings.K3sVersion), or add \"--kubelet-arg=fail-cgroupv1=false\" to ClusterSettings.K3sArgs (cgroup v1 is in maintenance mode since Kubernetes 1.31).",
            message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("time=\"2026-01-10T10:00:02Z\" level=fatal msg=\"starting kubernetes: preparing server: bootstrap data already found and encrypted with different token\"")]
    public void Other_failures_are_not_taken_for_it(string? log) =>
        Assert.Null(CgroupV1Refusal.Explain("kdt", log, "v1.35.0+k3s1"));
}
