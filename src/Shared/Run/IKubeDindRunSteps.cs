using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Mirror;

namespace KubeDind.Run;

/// <summary>
/// The steps a <see cref="KubeDindRunPlan"/> runs, each one call into the core. <see cref="SessionRunSteps"/> is the real
/// one (a <see cref="KubeDindSession"/>); a front end's tests put a recording fake here to run without Docker.
/// </summary>
public interface IKubeDindRunSteps : IAsyncDisposable
{
    /// <summary>The core's cluster object once started (null for steps without one).</summary>
    KubeDindCluster? Cluster { get; }

    /// <summary>Images pushed into the running cluster: local tag → the reference pods use.</summary>
    IReadOnlyDictionary<string, string> PushedImages { get; }

    /// <summary>Where the run's time went, recorded by the core's steps as they run; null for steps that do not keep one.</summary>
    RunTimeline? Timeline { get; }

    Task<KubeDindMirror> StartMirrorAsync(MirrorSettings settings, CancellationToken cancellationToken);

    Task<KubeDindEndpoints> StartClusterAsync(ClusterSettings settings, CancellationToken cancellationToken);

    /// <summary>Opens an existing cluster instead of starting one; later steps go to it.</summary>
    Task<KubeDindEndpoints> ConnectAsync(ExistingClusterSettings settings, CancellationToken cancellationToken);

    /// <summary>Builds the image from its context (the core's BuildImage), before a start that pushes it.</summary>
    Task BuildImageAsync(KubeDindImage image, CancellationToken cancellationToken);

    /// <summary>Builds the image when it has a context (the core's BuildImage), pushes it to the cluster's registry; returns the in-cluster reference.</summary>
    Task<string> PushImageAsync(KubeDindImage image, CancellationToken cancellationToken);

    /// <summary>The core's Deploy on the running cluster (diagnostics under the cluster's ArtifactsDirectory).</summary>
    Task DeployAsync(DeploySettings settings, CancellationToken cancellationToken);

    /// <summary>Writes what the cluster knows about its workloads (and its k3s, dockerd and registry logs); returns where.</summary>
    Task<string?> CollectDiagnosticsAsync(CancellationToken cancellationToken);

    /// <summary>Removes the cluster (never the mirror); with <paramref name="keep"/> only says where it is.</summary>
    Task TeardownAsync(bool keep, CancellationToken cancellationToken);
}

/// <summary>Where a running cluster is reached from the host: what the steps after StartCluster need.</summary>
/// <param name="ClusterName">The cluster container's name (an existing cluster: its context's name).</param>
/// <param name="KubeconfigPath">This run's kubeconfig on the host (server reachable from the host); null in compose mode.</param>
/// <param name="RegistryHostEndpoint">The cluster's registry as the host reaches it, e.g. <c>127.0.0.1:41235</c>; empty for an existing cluster without one.</param>
/// <param name="RegistryClusterEndpoint">The same registry as pods reference images, e.g. <c>localhost:5000</c>.</param>
public sealed record KubeDindEndpoints(string ClusterName, string? KubeconfigPath, string RegistryHostEndpoint, string RegistryClusterEndpoint);
