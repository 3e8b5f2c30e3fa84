using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Mirror;

namespace KubeDind.Run;

/// <summary>
/// Everything one run does, as <see cref="KubeDindRunPlan.RunAsync"/> takes it: the front ends (Cake, Nuke, the xunit
/// fixture) map their parameters onto this and decide nothing else, so the defaults here are the same in all three.
/// </summary>
public sealed record KubeDindRunSettings
{
    /// <summary>The environment variable that keeps the cluster after the run in every front end (<c>1</c> = keep).</summary>
    public const string KeepClusterVariable = "KUBEDIND_KEEP_CLUSTER";

    /// <summary>
    /// Start (or reuse) the host's registry mirrors and pull through them; on by default, since pulling each image
    /// once per machine instead of once per run is what keeps CI cheap (cache-only where the upstream does not answer).
    /// Ignored with <see cref="Connect"/>: an existing cluster pulls as it is configured to.
    /// </summary>
    public bool UseMirror { get; init; } = true;

    public MirrorSettings Mirror { get; init; } = new();

    public ClusterSettings Cluster { get; init; } = new();

    /// <summary>Deploy to this existing cluster instead of starting one; null = start a throwaway cluster.</summary>
    public ExistingClusterSettings? Connect { get; init; }

    /// <summary>Built (when they have a context) and pushed into the cluster's registry, in order, before the deployment.</summary>
    public IReadOnlyList<KubeDindImage> Images { get; init; } = [];

    /// <summary>Applied after the images are pushed (their names rewritten); null = deploy nothing.</summary>
    public DeploySettings? Deploy { get; init; }

    /// <summary>Leave the cluster running after the run (the finish then says how to reach it); default off, or <see cref="KeepClusterVariable"/>=1.</summary>
    public bool KeepCluster { get; init; } = KeepClusterFromEnvironment();

    /// <summary>Write a diagnostics bundle before the teardown of a run that failed; default on.</summary>
    public bool DiagnosticsOnFailure { get; init; } = true;

    /// <summary>Adds k3s server arguments as a front end receives them (see <see cref="ArgumentLine.K3sArguments"/>).</summary>
    public KubeDindRunSettings WithK3sArgs(IEnumerable<string?>? values) =>
        this with { Cluster = Cluster with { K3sArgs = [.. Cluster.K3sArgs, .. ArgumentLine.K3sArguments(values)] } };

    public static bool KeepClusterFromEnvironment() => Environment.GetEnvironmentVariable(KeepClusterVariable) == "1";
}
