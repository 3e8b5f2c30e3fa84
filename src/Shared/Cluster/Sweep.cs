using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Networking;

namespace KubeDind.Cluster;

public sealed record SweepSettings
{
    /// <summary>Clusters older than this are removed even when their owning process still runs.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromHours(6);

    /// <summary>
    /// Also remove every saved cluster state (warm starts then bootstrap again, and save anew) and the layer store
    /// (pushes then send every layer again); those in use stay.
    /// </summary>
    public bool AllState { get; init; }
}

public sealed record SweepResult(IReadOnlyList<string> RemovedContainers, IReadOnlyList<string> RemovedVolumes)
{
    public int Count => RemovedContainers.Count + RemovedVolumes.Count;
}

/// <summary>
/// Removes what crashed or killed runs left behind: clusters whose owning process is gone (judged by
/// <see cref="OwnerIdentity"/>: only owners in this process's own host, boot and PID namespace, so builds in
/// other containers sharing the engine keep theirs) or that are older than <see cref="SweepSettings.MaxAge"/>,
/// with their volumes. Never the mirror, never the shared network, never anything without KubeDind's owner label; saved
/// cluster states only when <see cref="SweepSettings.AllState"/> says so.
/// </summary>
public sealed class Sweep
{
    private readonly KubeDindSession _session;

    public Sweep(KubeDindSession session) => _session = session;

    public async Task<SweepResult> RunAsync(SweepSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var docker = _session.Docker;
        var containers = await docker.Containers.ListContainersAsync(
            new ContainersListParameters { All = true, Filters = OwnedBy(StartCluster.Role) },
            cancellationToken).ConfigureAwait(false);

        var removedContainers = new List<string>();
        var staleClusters = new HashSet<string>(StringComparer.Ordinal);
        foreach (var container in containers)
        {
            if (!KubeDindLabels.IsOwned(container.Labels) || Label(container.Labels, KubeDindLabels.Role) != StartCluster.Role)
            {
                continue;
            }

            var name = container.Names.FirstOrDefault()?.TrimStart('/') ?? container.ID[..12];
            if (WhyStale(container.Labels, settings.MaxAge) is not { } reason)
            {
                continue;
            }

            _session.Log.Info($"sweep: removing cluster {name}: {reason}");
            if (await Teardown.RemoveContainerAsync(_session, container.ID, TimeSpan.Zero, cancellationToken).ConfigureAwait(false))
            {
                removedContainers.Add(name);
            }

            staleClusters.Add(StaleKey(Label(container.Labels, KubeDindLabels.Cluster) ?? name, Label(container.Labels, KubeDindLabels.RunId)));
        }

        var removedVolumes = await SweepVolumesAsync(docker, staleClusters, settings, cancellationToken).ConfigureAwait(false);
        if (settings.AllState)
        {
            var states = await new ClusterStateStore(_session).RemoveAllAsync(cancellationToken).ConfigureAwait(false);
            _session.Log.Info($"sweep: removed {states.Count} saved cluster states{(states.Count == 0 ? string.Empty : ": " + string.Join(", ", states))}");
            removedVolumes.AddRange(states);
            if (await LayerStore.RemoveAsync(_session, LayerStoreSettings.DefaultVolume, cancellationToken).ConfigureAwait(false))
            {
                _session.Log.Info($"sweep: removed the layer store {LayerStoreSettings.DefaultVolume}");
                removedVolumes.Add(LayerStoreSettings.DefaultVolume);
            }
        }

        var result = new SweepResult(removedContainers, removedVolumes);
        _session.Log.Debug($"sweep: removed {removedContainers.Count} containers, {removedVolumes.Count} volumes");
        return result;
    }

    /// <summary>Why a resource with these labels is stale (owner gone, too old), or null when it must stay.</summary>
    internal static string? WhyStale(IDictionary<string, string> labels, TimeSpan maxAge, DateTimeOffset? now = null)
    {
        if (labels.TryGetValue(KubeDindLabels.Created, out var createdText)
            && DateTimeOffset.TryParse(createdText, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var created)
            && (now ?? DateTimeOffset.UtcNow) - created > maxAge)
        {
            return $"older than {maxAge.TotalHours:0.#}h (created {created:u})";
        }

        return OwnerIdentity.WhyGone(labels);
    }

    private async Task<List<string>> SweepVolumesAsync(IDockerClient docker, HashSet<string> staleClusters, SweepSettings settings, CancellationToken cancellationToken)
    {
        var volumes = await docker.Volumes.ListAsync(new VolumesListParameters { Filters = OwnedBy(StartCluster.Role + "-volume") }, cancellationToken).ConfigureAwait(false);
        var removed = new List<string>();
        foreach (var volume in volumes.Volumes ?? [])
        {
            if (!KubeDindLabels.IsOwned(volume.Labels) || Label(volume.Labels, KubeDindLabels.Role) != StartCluster.Role + "-volume")
            {
                continue;
            }

            // The same cluster name and run: a volume another run labelled with a reused name is not this orphan's.
            var ofStaleCluster = volume.Labels.TryGetValue(KubeDindLabels.Cluster, out var cluster) && staleClusters.Contains(StaleKey(cluster, Label(volume.Labels, KubeDindLabels.RunId)));
            if (!ofStaleCluster && WhyStale(volume.Labels, settings.MaxAge) is null)
            {
                continue;
            }

            try
            {
                // Not forced: a volume still mounted by a container is in use and stays.
                await docker.Volumes.RemoveAsync(volume.Name, force: false, cancellationToken).ConfigureAwait(false);
                removed.Add(volume.Name);
            }
            catch (DockerApiException ex)
            {
                _session.Log.Debug($"sweep: volume {volume.Name} stays ({DockerEngine.FirstLine(ex)})");
            }
        }

        return removed;
    }

    private static string StaleKey(string cluster, string? runId) => cluster + "\n" + runId;

    internal static string? Label(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    private static Dictionary<string, IDictionary<string, bool>> OwnedBy(string role) => new()
    {
        ["label"] = new Dictionary<string, bool>
        {
            [$"{KubeDindLabels.Owner}={KubeDindLabels.OwnerValue}"] = true,
            [$"{KubeDindLabels.Role}={role}"] = true,
        },
    };
}
