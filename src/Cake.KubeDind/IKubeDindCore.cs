using Cake.Core;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Mirror;
using KubeDind.Run;

namespace Cake.KubeDind;

/// <summary>
/// What the aliases call: the core's steps with settings already mapped. The aliases only map settings,
/// call this, and turn failures into Cake errors, so tests can put a fake core behind a fake context.
/// </summary>
internal interface IKubeDindCore
{
    Task<KubeDindMirror> StartMirrorAsync(ICakeContext context, MirrorSettings settings, CancellationToken cancellationToken);

    Task<KubeDindCluster> StartClusterAsync(ICakeContext context, ClusterSettings settings, CancellationToken cancellationToken);

    Task<string> BuildImageAsync(ICakeContext context, KubeDindImage settings, CancellationToken cancellationToken);

    Task<string> PushImageAsync(ICakeContext context, KubeDindCluster cluster, string image, string? name, CancellationToken cancellationToken);

    Task<string> LoadImageAsync(ICakeContext context, KubeDindCluster cluster, string image, CancellationToken cancellationToken);

    Task<DeployResult> DeployAsync(ICakeContext context, KubeDindCluster cluster, DeploySettings settings, CancellationToken cancellationToken);

    Task<DiagnosticsBundle> CollectDiagnosticsAsync(ICakeContext context, KubeDindCluster cluster, CancellationToken cancellationToken);

    Task<ServiceEndpoint> OpenServiceAsync(ICakeContext context, KubeDindCluster cluster, string service, string port, KubeDindServiceSettings settings, CancellationToken cancellationToken);

    Task<WorkloadLogs> ReadLogsAsync(ICakeContext context, KubeDindCluster cluster, string kind, string name, KubeDindLogsSettings settings, CancellationToken cancellationToken);

    Task<JobRunResult> RunJobAsync(ICakeContext context, KubeDindCluster cluster, JobRunSettings settings, CancellationToken cancellationToken);

    Task TeardownAsync(ICakeContext context, KubeDindCluster cluster, TeardownSettings settings, CancellationToken cancellationToken);

    Task<ExistingCluster> ConnectAsync(ICakeContext context, ExistingClusterSettings settings, CancellationToken cancellationToken);

    /// <summary>The steps a run plan runs, on this context's session (one run id with the other aliases).</summary>
    Task<IKubeDindRunSteps> RunStepsAsync(ICakeContext context, CancellationToken cancellationToken);

    /// <summary>Where this context's session spent its time; an empty timeline when no step ran (nothing connects for it).</summary>
    RunTimeline Timeline(ICakeContext context);

    Task<SweepResult> SweepAsync(ICakeContext context, SweepSettings settings, CancellationToken cancellationToken);
}
