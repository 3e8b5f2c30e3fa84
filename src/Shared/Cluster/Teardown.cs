using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Mirror;
using KubeDind.Run;

namespace KubeDind.Cluster;

/// <summary>What <see cref="KubeDindCluster.TeardownAsync"/> removes besides the cluster itself.</summary>
public sealed record TeardownSettings
{
    /// <summary>Also stop and remove the mirror container of this name (its cache volume always stays). Null = leave the mirror alone.</summary>
    public string? MirrorName { get; init; }
}

/// <summary>
/// Removes a cluster: kills its container and its agents' (after <see cref="ClusterSettings.StopTimeout"/>, none by default), removes them with their volumes, deletes the
/// per-run kubeconfig. Idempotent: a second call, or a container already gone, is fine. Never touches the
/// mirror unless asked, and never the mirror's cache volume.
/// </summary>
public sealed class Teardown
{
    private readonly KubeDindSession _session;

    public Teardown(KubeDindSession session) => _session = session;

    public async Task RunAsync(KubeDindCluster cluster, TeardownSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(settings);
        if (!cluster.MarkTornDown())
        {
            _session.Log.Debug($"cluster {cluster.Name}: already torn down");
            return;
        }

        var started = DateTimeOffset.UtcNow;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await LayerStore.FinishKeepingUnpackedAsync(cluster, cancellationToken).ConfigureAwait(false);
        // A push's background link of unpacked layers still running is not waited for: what it makes (snapshots linking
        // to the store) lives in this cluster's containerd, which goes with the container; the shared store it only reads (and marks as used).
        cluster.DisposeClient();
        bool removed;
        try
        {
            // The agents and the server stop together: one after the other, a multi-node teardown took their grace times added up.
            async Task RemoveAgentsAsync()
            {
                var agents = await ClusterAgents.RemoveAsync(_session, cluster.Name, cluster.Session.RunId, cluster.Settings.StopTimeout, cancellationToken).ConfigureAwait(false);
                _session.Log.Debug($"cluster {cluster.Name}: {agents.Count} agent container(s) removed after {watch.Elapsed.TotalSeconds:0.0}s");
            }

            var server = RemoveContainerAsync(_session, cluster.ContainerId, cluster.Settings.StopTimeout, cancellationToken);
            await Task.WhenAll(server, cluster.Agents.Count > 0 ? RemoveAgentsAsync() : Task.CompletedTask).ConfigureAwait(false);
            removed = await server.ConfigureAwait(false);
            await RemoveVolumesAsync(_session, cluster.Name, cluster.Session.RunId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Not removed: let a later teardown (or the dispose after a cancelled one) try again.
            cluster.UnmarkTornDown();
            _session.Timeline.Record(RunPhase.Teardown, started, watch.Elapsed, failed: true);
            throw;
        }

        DeleteKubeconfig(cluster.KubeconfigPath);
        if (settings.MirrorName is { } mirror)
        {
            // The mirror's own step: stops it, keeps its cache volume.
            await new StopMirror(_session).RunAsync(mirror, removeCache: false, cancellationToken).ConfigureAwait(false);
        }

        _session.Timeline.Record(RunPhase.Teardown, started, watch.Elapsed);
        _session.Log.Info($"cluster {cluster.Name}: torn down in {watch.Elapsed.TotalSeconds:0.0}s{(removed ? string.Empty : " (its container was already gone)")}");
    }

    /// <summary>Stops (SIGTERM, then SIGKILL after <paramref name="grace"/>) and removes a container with its anonymous volumes; false when it was gone already.</summary>
    internal static async Task<bool> RemoveContainerAsync(KubeDindSession session, string containerId, TimeSpan grace, CancellationToken cancellationToken)
    {
        try
        {
            if (grace > TimeSpan.Zero)
            {
                await session.Docker.Containers.StopContainerAsync(containerId, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)Math.Ceiling(grace.TotalSeconds) }, cancellationToken).ConfigureAwait(false);
            }

            await session.Docker.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (DockerContainerNotFoundException)
        {
            return false;
        }
        catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
        catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.Conflict && ex.ResponseBody.Contains("in progress", StringComparison.OrdinalIgnoreCase))
        {
            // Someone else (a parallel teardown or sweep) is removing it already. The 409 alone does not say which
            // conflict it is (the API has no finer code); the engine's text does, and only this one is harmless.
            return false;
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"cannot remove container {containerId[..Math.Min(12, containerId.Length)]}: {DockerEngine.FirstLine(ex)}; remove it by hand (docker rm -fv).", inner: ex);
        }
    }

    /// <summary>
    /// Removes the cluster's volumes that outlived the container: labelled with its name and its run (a volume of
    /// another run that reuses the name is not ours); ones still in use are left.
    /// </summary>
    internal static async Task<IReadOnlyList<string>> RemoveVolumesAsync(KubeDindSession session, string clusterName, string runId, CancellationToken cancellationToken)
    {
        var volumes = await session.Docker.Volumes.ListAsync(
            new VolumesListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{KubeDindLabels.Cluster}={clusterName}"] = true } } },
            cancellationToken).ConfigureAwait(false);
        var removed = new List<string>();
        foreach (var volume in volumes.Volumes ?? [])
        {
            if (!KubeDindLabels.IsOwned(volume.Labels) || Sweep.Label(volume.Labels, KubeDindLabels.Role) != StartCluster.Role + "-volume"
                || Sweep.Label(volume.Labels, KubeDindLabels.RunId) != runId)
            {
                continue;
            }

            try
            {
                await session.Docker.Volumes.RemoveAsync(volume.Name, force: false, cancellationToken).ConfigureAwait(false);
                removed.Add(volume.Name);
            }
            catch (DockerApiException ex)
            {
                session.Log.Debug($"volume {volume.Name}: not removed ({DockerEngine.FirstLine(ex)})");
            }
        }

        return removed;
    }

    /// <summary>Deletes the kubeconfig, and its directory when that is the cluster's own (default) one and now empty.</summary>
    internal static void DeleteKubeconfig(string? path)
    {
        if (path is null)
        {
            return;
        }

        File.Delete(path);
        var directory = Path.GetDirectoryName(path);
        if (Path.GetFileName(path) == "kubeconfig.yaml" && directory is not null && Directory.Exists(directory) && !Directory.EnumerateFileSystemEntries(directory).Any())
        {
            Directory.Delete(directory);
        }
    }
}
