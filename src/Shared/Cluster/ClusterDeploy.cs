using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Docker;

namespace KubeDind.Cluster;

/// <summary>The Deploy step and diagnostics, run against this cluster with what only the cluster knows.</summary>
public sealed partial class KubeDindCluster
{
    /// <summary>The cluster's own process logs collected into diagnostics bundles (inside the container).</summary>
    private static readonly string[] ComponentLogs = ["k3s", "dockerd", "registry"];

    /// <summary>
    /// Applies <paramref name="settings"/>' manifests and waits for their rollout; images pushed or loaded in this run
    /// are rewritten automatically (on top of <see cref="DeploySettings.ImageRewrites"/>). A failed rollout writes a
    /// diagnostics bundle (with k3s and inner dockerd logs) under the artifacts directory and throws.
    /// </summary>
    public Task<DeployResult> DeployAsync(DeploySettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        RequireKubernetes("Deploy");
        ThrowIfTornDown();
        return DeployStep.RunAsync(Kubernetes, settings, CreateDeployContext(), cancellationToken);
    }

    /// <summary>Writes a diagnostics bundle for the whole cluster now (for a test that failed for its own reasons).</summary>
    public Task<DiagnosticsBundle> CollectDiagnosticsAsync(CancellationToken cancellationToken = default)
    {
        RequireKubernetes("collecting Kubernetes diagnostics");
        ThrowIfTornDown();
        return DeployStep.CollectDiagnosticsAsync(Kubernetes, CreateDeployContext(), cancellationToken);
    }

    /// <summary>
    /// A host URL for a Service's port: through a port published at start (<see cref="ClusterSettings.Ports"/>, for a
    /// NodePort or externalIP service) when there is one, else through an API port-forward. Dispose it when done.
    /// </summary>
    public Task<ServiceEndpoint> OpenServiceAsync(string service, string port, string @namespace = "default", string scheme = "http", CancellationToken cancellationToken = default)
    {
        RequireKubernetes("OpenServiceAsync");
        ThrowIfTornDown();
        return new ServiceAccess(Kubernetes, PublishedPorts, Settings.HostAddress, Session.Log).OpenAsync(service, port, @namespace, scheme, cancellationToken: cancellationToken);
    }

    internal DeployContext CreateDeployContext() => new()
    {
        ClusterName = Name,
        ArtifactsDirectory = Settings.ArtifactsDirectory,
        Log = Session.Log,
        PushedImages = new Dictionary<string, string>(_images),
        ExtraLogs = ReadComponentLogsAsync,
    };

    /// <summary>The last lines of the cluster container's own log and of each component log inside it.</summary>
    internal async Task<IReadOnlyDictionary<string, string>> ReadComponentLogsAsync(CancellationToken cancellationToken)
    {
        var logs = new Dictionary<string, string>
        {
            ["kubedind-container"] = await ContainerLogs.TailAsync(Session.Docker, ContainerId, 500, cancellationToken).ConfigureAwait(false),
        };
        foreach (var component in ComponentLogs)
        {
            try
            {
                var result = await ContainerExec.RunAsync(Session.Docker, ContainerId, ["tail", "-n", "1000", $"/var/log/kubedind/{component}.log"], cancellationToken: cancellationToken).ConfigureAwait(false);
                logs[component] = result.Succeeded ? result.StandardOutput : $"(not readable: {result.FirstErrorLine})";
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logs[component] = $"(not readable: {ex.Message.Split('\n')[0]})";
            }
        }

        return logs;
    }
}
