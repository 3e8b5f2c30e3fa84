using k8s;
using KubeDind.Deploy;
using KubeDind.Diagnostics;

namespace KubeDind.Cluster;

/// <summary>
/// What Deploy, diagnostics and service access need from a cluster, whether KubeDind started it
/// (<see cref="KubeDindCluster"/>) or it already existed (<see cref="Existing.ExistingCluster"/>).
/// Tearing a handle down removes only what this run created.
/// </summary>
public interface IClusterHandle : IAsyncDisposable
{
    /// <summary>The cluster's name in logs and artifacts.</summary>
    string Name { get; }

    /// <summary>A client for the cluster's API.</summary>
    IKubernetes Kubernetes { get; }

    /// <summary>A kubeconfig on the host that reaches the cluster (for kubectl and tests); null when there is none.</summary>
    string? KubeconfigPath { get; }

    /// <summary>The namespace Deploy uses for objects that name none, and services are looked up in by default.</summary>
    string DefaultNamespace { get; }

    /// <summary>Images pushed in this run: the host name → the reference the cluster pulls.</summary>
    IReadOnlyDictionary<string, string> Images { get; }

    /// <summary>Pushes a host image to the registry the cluster pulls from; returns the reference pods use.</summary>
    Task<string> PushImageAsync(string hostImage, string? name = null, CancellationToken cancellationToken = default);

    /// <summary>Applies manifests (pushed images rewritten) and waits for their rollout; a failure writes a diagnostics bundle.</summary>
    Task<DeployResult> DeployAsync(DeploySettings settings, CancellationToken cancellationToken = default);

    /// <summary>Writes a diagnostics bundle now.</summary>
    Task<DiagnosticsBundle> CollectDiagnosticsAsync(CancellationToken cancellationToken = default);

    /// <summary>A host URL for a Service's port; <paramref name="namespace"/> null = <see cref="DefaultNamespace"/>.</summary>
    Task<ServiceEndpoint> OpenServiceAsync(string service, string port, string? @namespace, string scheme = "http", CancellationToken cancellationToken = default);

    /// <summary>Removes what this run created (a KubeDind cluster: its container; an existing cluster: its throwaway namespace).</summary>
    Task TeardownAsync(CancellationToken cancellationToken = default);
}
