using System.Diagnostics;
using KubeDind.Networking;

namespace KubeDind.Cluster;

/// <summary>What the steps of one cluster start share (kind's action context): each step reads what earlier ones set.</summary>
internal sealed class ClusterStartContext(KubeDindSession session, ClusterSettings settings)
{
    public KubeDindSession Session { get; } = session;

    public ClusterSettings Settings { get; } = settings;

    /// <summary>Runs from the start of <see cref="StartCluster.RunAsync"/>; every timing is read from it.</summary>
    public Stopwatch Watch { get; } = Stopwatch.StartNew();

    public string Name { get; set; } = string.Empty;

    /// <summary>Where the ports are published and the host this build reaches them at (<see cref="HostPorts.Choose"/>).</summary>
    public PortPublishing Publishing { get; set; } = null!;

    public string Image { get; set; } = string.Empty;

    public TimeSpan ImageReady { get; set; }

    public string ContainerId { get; set; } = string.Empty;

    public PrivilegeMode Privilege { get; set; }

    public TimeSpan ContainerStarted { get; set; }

    /// <summary>When the engine says the container started (its clock): readiness signals must be newer.</summary>
    public DateTimeOffset ContainerStartedAt { get; set; }

    /// <summary>The agent containers started so far (multi-node clusters), in node order.</summary>
    public List<ClusterAgent> Agents { get; } = [];

    /// <summary>A push of <see cref="ClusterSettings.ImagesToPush"/> failed: the start fails with it, whatever state it started from.</summary>
    public bool PushFailed { get; set; }

    /// <summary>Set before the container starts (Kubernetes clusters): whether and from what k3s starts warm.</summary>
    public ClusterWarmStart? WarmStart { get; set; }
}
