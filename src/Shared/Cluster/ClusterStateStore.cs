using System.Diagnostics;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Waiting;

namespace KubeDind.Cluster;

/// <summary>A saved cluster state: a volume holding a bootstrapped <c>/var/lib/rancher/k3s</c>.</summary>
/// <param name="Volume">The volume's name.</param>
/// <param name="Saved">When it was saved.</param>
/// <param name="From">The cluster it was saved from.</param>
/// <param name="Labels">The volume's labels (the key's parts among them).</param>
public sealed record SavedClusterState(string Volume, DateTimeOffset Saved, string From, IDictionary<string, string> Labels)
{
    public override string ToString() => $"{Volume} (saved {Saved:u} from {From})";
}

/// <summary>
/// Saved cluster states (k3s's datastore, certificates and settings; not its containerd store), each a labelled volume KubeDind owns (never tied to a run, so Sweep leaves them unless told
/// <see cref="SweepSettings.AllState"/>). Copies run in a short helper container of the cluster image. A state is
/// complete only when its marker file, written last, names its key: a save cut short, or a volume emptied or
/// damaged by hand, is never restored; such a state is removed and the cluster starts cold.
/// </summary>
internal sealed class ClusterStateStore(KubeDindSession session)
{
    public const string Role = "cluster-state";
    public const string KeyLabel = "io.kubedind.state-key";
    public const string SavedLabel = "io.kubedind.state-saved";
    public const string FromLabel = "io.kubedind.state-from";
    public const string PartLabelPrefix = "io.kubedind.state.";
    public const string StateDirectory = "/var/lib/rancher/k3s";

    /// <summary>Written last by a save, holding the key's hash; a state without it is half-written.</summary>
    public const string Marker = ".kubedind-state-complete";

    /// <summary>Saved states kept at most (the newest; in-use ones are never removed).</summary>
    public const int Keep = 6;

    private const int HelperExitIncomplete = 3;

    // Restore: refuse a state without its marker or datastore; a copy that fails leaves the target empty (a cold start).
    private const string RestoreScript = """
        set -u
        [ -f /state/.kubedind-state-complete ] || { echo "it has no completion marker (a save was cut short)"; exit 3; }
        [ "$(cat /state/.kubedind-state-complete)" = "$KUBEDIND_STATE_KEY" ] || { echo "its marker names another key"; exit 3; }
        [ -d /state/server/tls ] && { [ -s /state/server/db/state.db ] || [ -d /state/server/db/etcd ]; } || { echo "it has no k3s datastore or certificates"; exit 3; }
        if ! cp -a /state/. /k3s/; then
          find /k3s -mindepth 1 -delete
          echo "copying it failed"
          exit 4
        fi
        rm -f /k3s/.kubedind-state-complete
        """;

    // Save: copy, flush, then the marker (through a rename, so it is whole or absent). Not the embedded containerd's
    // store: its metadata names the saved cluster's pod sandboxes, whose cleanup slowed warm starts until k3s's
    // controller manager gave up; a fresh containerd imports the image tarballs as a cold start does. Not k3s's
    // serving certificate (server/tls/dynamic-cert.json): restored, it carries the resourceVersion of the saved
    // cluster's k3s-serving secret, and k3s's in-memory store ignores every new certificate with that same version,
    // so the names this container adds (its address, its name) were not served until k3s's secret controller synced
    // (10-20 s in, here); without it k3s makes one at start from the server CA, valid for every name it is asked for.
    private const string SaveScript = """
        set -eu
        tar -C /k3s --exclude=./agent/containerd --exclude=./server/tls/dynamic-cert.json -cf - . | tar -C /state -xpf -
        rm -f /state/.kubedind-state-complete
        sync
        echo "$KUBEDIND_STATE_KEY" > /state/.kubedind-state-complete.tmp
        mv /state/.kubedind-state-complete.tmp /state/.kubedind-state-complete
        sync
        """;

    private IDockerClient Docker => session.Docker;

    private IKubeDindLog Log => session.Log;

    /// <summary>Every saved state (complete or not: completeness is checked when one is restored), newest first.</summary>
    public async Task<IReadOnlyList<SavedClusterState>> ListAsync(CancellationToken cancellationToken)
    {
        var filter = new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool>
            {
                [$"{KubeDindLabels.Owner}={KubeDindLabels.OwnerValue}"] = true,
                [$"{KubeDindLabels.Role}={Role}"] = true,
            },
        };
        var volumes = await Docker.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, cancellationToken).ConfigureAwait(false);
        return (volumes.Volumes ?? [])
            .Where(v => KubeDindLabels.IsOwned(v.Labels) && Sweep.Label(v.Labels, KubeDindLabels.Role) == Role)
            .Select(v => new SavedClusterState(
                v.Name,
                DateTimeOffset.TryParse(Sweep.Label(v.Labels, SavedLabel), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var saved) ? saved : DateTimeOffset.MinValue,
                Sweep.Label(v.Labels, FromLabel) ?? "?",
                v.Labels))
            .OrderByDescending(s => s.Saved)
            .ToList();
    }

    /// <summary>The newest state saved for <paramref name="key"/>, or null and why there is none (for "cold start: why").</summary>
    public async Task<(SavedClusterState? State, string Why)> FindAsync(ClusterStateKey key, CancellationToken cancellationToken)
    {
        var states = await ListAsync(cancellationToken).ConfigureAwait(false);
        var match = states.FirstOrDefault(s => Sweep.Label(s.Labels, KeyLabel) == key.Hash);
        if (match is not null)
        {
            return (match, string.Empty);
        }

        if (states.Count == 0)
        {
            return (null, "no saved cluster state yet (this start saves one)");
        }

        var newest = states[0];
        return (null, $"the saved state {newest.Volume} was made with different inputs ({string.Join(", ", key.DifferencesFrom(newest.Labels))}); this start saves one for the new inputs");
    }

    /// <summary>
    /// Copies <paramref name="state"/> into the created, not yet started container's own state volume. False (with a
    /// warning, the state removed) when the state is incomplete or the copy fails: the cluster then starts cold.
    /// </summary>
    public async Task<bool> RestoreAsync(string cluster, SavedClusterState state, ClusterStateKey key, string containerId, string image, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(key);
        try
        {
            var target = await StateVolumeOfAsync(containerId, cancellationToken).ConfigureAwait(false);
            var (exit, output) = await RunHelperAsync(
                cluster,
                image,
                RestoreScript,
                key.Hash,
                [new Mount { Type = "volume", Source = state.Volume, Target = "/state", ReadOnly = true }, new Mount { Type = "volume", Source = target, Target = "/k3s" }],
                pause: null,
                cancellationToken).ConfigureAwait(false);
            if (exit == 0)
            {
                return true;
            }

            Log.Warn($"cluster {cluster}: cold start: the saved state {state.Volume} cannot be used: {output}; removing it");
            if (exit == HelperExitIncomplete)
            {
                await RemoveAsync(state.Volume, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is DockerApiException or KubeDindException)
        {
            Log.Warn($"cluster {cluster}: cold start: restoring the saved state {state.Volume} failed: {ex.Message.Split('\n')[0]}");
        }

        return false;
    }

    /// <summary>
    /// Saves the ready cluster's state for <paramref name="key"/>: the container is paused for the copy (so the
    /// datastore is copied consistent), then resumed. Returns the new state, or null (with a warning) when saving failed.
    /// </summary>
    public async Task<SavedClusterState?> SaveAsync(string cluster, string containerId, string image, ClusterStateKey key, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var name = $"kubedind-state-{key.Hash}-{Guid.NewGuid().ToString("N")[..6]}";
        var saved = DateTimeOffset.UtcNow;
        var labels = key.ToLabels();
        labels[KubeDindLabels.Owner] = KubeDindLabels.OwnerValue;
        labels[KubeDindLabels.Role] = Role;
        labels[SavedLabel] = saved.ToString("O", CultureInfo.InvariantCulture);
        labels[FromLabel] = cluster;
        try
        {
            var source = await StateVolumeOfAsync(containerId, cancellationToken).ConfigureAwait(false);
            await Docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = name, Labels = labels }, cancellationToken).ConfigureAwait(false);
            var (exit, output) = await RunHelperAsync(
                cluster,
                image,
                SaveScript,
                key.Hash,
                [new Mount { Type = "volume", Source = source, Target = "/k3s", ReadOnly = true }, new Mount { Type = "volume", Source = name, Target = "/state" }],
                pause: containerId,
                cancellationToken).ConfigureAwait(false);
            if (exit != 0)
            {
                Log.Warn($"cluster {cluster}: saving the cluster state for warm starts failed ({output}); the next start is cold too");
                await RemoveAsync(name, CancellationToken.None).ConfigureAwait(false);
                return null;
            }

            await PruneAsync(name, key, cancellationToken).ConfigureAwait(false);
            return new SavedClusterState(name, saved, cluster, labels);
        }
        catch (Exception ex) when (ex is DockerApiException or KubeDindException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Log.Warn($"cluster {cluster}: saving the cluster state for warm starts failed: {ex.Message.Split('\n')[0]}; the next start is cold too");
            await RemoveAsync(name, CancellationToken.None).ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>Removes every saved state not in use; returns the names removed.</summary>
    public async Task<IReadOnlyList<string>> RemoveAllAsync(CancellationToken cancellationToken)
    {
        var removed = new List<string>();
        foreach (var state in await ListAsync(cancellationToken).ConfigureAwait(false))
        {
            if (await RemoveAsync(state.Volume, cancellationToken).ConfigureAwait(false))
            {
                removed.Add(state.Volume);
            }
        }

        return removed;
    }

    /// <summary>Older states of the same key, and the oldest beyond <see cref="Keep"/>, go (those in use stay).</summary>
    private async Task PruneAsync(string kept, ClusterStateKey key, CancellationToken cancellationToken)
    {
        var states = await ListAsync(cancellationToken).ConfigureAwait(false);
        var others = states.Where(s => s.Volume != kept).ToList();
        var sameKey = others.Where(s => Sweep.Label(s.Labels, KeyLabel) == key.Hash);
        var beyond = others.Where(s => Sweep.Label(s.Labels, KeyLabel) != key.Hash).Skip(Keep - 1);
        foreach (var state in sameKey.Concat(beyond))
        {
            await RemoveAsync(state.Volume, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<bool> RemoveAsync(string volume, CancellationToken cancellationToken)
    {
        try
        {
            // Not forced: a state a helper is copying right now stays.
            await Docker.Volumes.RemoveAsync(volume, force: false, cancellationToken).ConfigureAwait(false);
            Log.Debug($"cluster state {volume} removed");
            return true;
        }
        catch (DockerApiException ex)
        {
            Log.Debug($"cluster state {volume} stays ({DockerEngine.FirstLine(ex)})");
            return false;
        }
    }

    private async Task<string> StateVolumeOfAsync(string containerId, CancellationToken cancellationToken)
    {
        var inspect = await Docker.Containers.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
        return inspect.Mounts?.FirstOrDefault(m => m.Destination == StateDirectory && m.Type == "volume")?.Name
            ?? throw new KubeDindException($"container {inspect.Name.TrimStart('/')} has no volume at {StateDirectory}");
    }

    /// <summary>Runs <paramref name="script"/> in a helper container of <paramref name="image"/>, pausing <paramref name="pause"/> meanwhile; the exit code and the last output line.</summary>
    private async Task<(long Exit, string Output)> RunHelperAsync(string cluster, string image, string script, string keyHash, IList<Mount> mounts, string? pause, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var created = await Docker.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Image = image,
                Entrypoint = ["/bin/sh", "-c", script],
                Env = [$"KUBEDIND_STATE_KEY={keyHash}"],
                User = "0:0",
                Labels = KubeDindLabels.ForResource(Role + "-helper", session.RunId),
                HostConfig = new HostConfig { Mounts = mounts, NetworkMode = "none", AutoRemove = false },
            },
            cancellationToken).ConfigureAwait(false);
        var paused = false;
        try
        {
            if (pause is not null)
            {
                await PauseAsync(pause, cancellationToken).ConfigureAwait(false);
                paused = true;
            }

            await Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), cancellationToken).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            var wait = await Docker.Containers.WaitContainerAsync(created.ID, timeout.Token).ConfigureAwait(false);
            if (paused)
            {
                await Docker.Containers.UnpauseContainerAsync(pause!, CancellationToken.None).ConfigureAwait(false);
                paused = false;
            }

            var output = wait.StatusCode == 0 ? string.Empty : (await ContainerLogs.TailAsync(Docker, created.ID, 5, CancellationToken.None).ConfigureAwait(false)).Trim().Split('\n')[^1].Trim();
            Log.Debug($"cluster {cluster}: state copy helper exited {wait.StatusCode} after {watch.Elapsed.TotalSeconds:0.00}s{(pause is null ? string.Empty : " (cluster paused meanwhile)")}");
            return (wait.StatusCode, output.Length == 0 ? $"exit code {wait.StatusCode}" : output);
        }
        finally
        {
            if (paused)
            {
                await TryAsync(() => Docker.Containers.UnpauseContainerAsync(pause!, CancellationToken.None)).ConfigureAwait(false);
            }

            await TryAsync(() => Docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Pauses (freezes) the cluster for the copy, trying again for a few seconds: the cgroup freezer gives up ("unable to
    /// freeze") when a process does not stop in time, which happens on a loaded machine and passes on a second try.
    /// </summary>
    private async Task PauseAsync(string containerId, CancellationToken cancellationToken)
    {
        var outcome = await Poll.UntilAsync<bool>(
            "the cluster container to freeze for the state copy",
            async ct =>
            {
                try
                {
                    await Docker.Containers.PauseContainerAsync(containerId, ct).ConfigureAwait(false);
                    return PollStep<bool>.Finished(true);
                }
                // The engine answers a failed freeze with a plain 500 and runc's text: the text is all that tells it apart.
                catch (DockerApiException ex) when (ex.Message.Contains("freeze", StringComparison.OrdinalIgnoreCase))
                {
                    return PollStep<bool>.NotYet(DockerEngine.FirstLine(ex));
                }
            },
            TimeSpan.FromSeconds(1),
            TimeSpan.FromSeconds(10),
            cancellationToken).ConfigureAwait(false);
        outcome.ValueOrThrow($"cluster container {containerId[..Math.Min(12, containerId.Length)]}", "the container to freeze for the state copy", "the state is not saved; the next start is cold");
    }

    private static async Task TryAsync(Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (DockerApiException)
        {
            // Best effort: the container is gone already, or was never paused.
        }
    }
}
