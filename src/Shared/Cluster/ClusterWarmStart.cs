using System.Diagnostics;
using System.Globalization;
using k8s;
using k8s.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// The warm-start step of a cluster start: before the container starts, its own state volume gets a copy of the
/// state saved for the same <see cref="ClusterStateKey"/> (so k3s starts on a bootstrapped datastore instead of
/// creating one); after a cold start becomes ready, before any workload, the state is saved for the next start. On
/// a warm start, node objects that no longer answer (another node name) are removed once the cluster is ready.
/// Nothing here fails a start: a state that cannot be used or saved is a warning and a cold start.
/// </summary>
internal sealed class ClusterWarmStart
{
    private readonly ClusterStartContext _context;
    private readonly ClusterStateStore _store;
    private readonly ClusterStateKey? _key;
    private readonly SavedClusterState? _state;
    private bool _coldSaid;

    private ClusterWarmStart(ClusterStartContext context, ClusterStateKey? key, SavedClusterState? state, string reason)
    {
        _context = context;
        _store = new ClusterStateStore(context.Session);
        _key = key;
        _state = state;
        ColdReason = reason;
    }

    /// <summary>True once the saved state was copied into the container: k3s starts warm.</summary>
    public bool Restored { get; private set; }

    /// <summary>Why the start is cold (empty for a warm one).</summary>
    public string ColdReason { get; private set; }

    public TimeSpan? RestoreTime { get; private set; }

    public TimeSpan? SaveTime { get; private set; }

    /// <summary>"warm start from ... (saved ...)" or "cold start: why", as logged.</summary>
    public string Description => Restored ? $"warm start from {_state!.Volume} (saved {_state.Saved:u})" : $"cold start: {ColdReason}";

    /// <summary>Looks for a state for this start's key (Kubernetes only; the image must be resolved).</summary>
    public static async Task<ClusterWarmStart> PrepareAsync(ClusterStartContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        if (!settings.Kubernetes)
        {
            return new ClusterWarmStart(context, null, null, "compose mode");
        }

        if (!settings.WarmStart)
        {
            return new ClusterWarmStart(context, null, null, "warm start is off (WarmStart = false)");
        }

        if (settings.Agents > 0)
        {
            // A saved state holds the server's datastore with its nodes; agents joining a restored server are not verified yet.
            return new ClusterWarmStart(context, null, null, $"a multi-node cluster ({settings.Agents} agents) always starts cold; warm starts are for one node");
        }

        var image = await new ImageStore(context.Session.Docker, context.Session.Log).InspectAsync(context.Image, cancellationToken).ConfigureAwait(false);
        if (image is null)
        {
            return new ClusterWarmStart(context, null, null, $"the image {context.Image} cannot be inspected");
        }

        var k3sVersion = image.Config?.Labels is { } labels && labels.TryGetValue(KubeDindLabels.K3sVersion, out var v) ? v : null;
        var key = ClusterStateKey.For(settings, image.ID, k3sVersion);
        var (state, why) = await new ClusterStateStore(context.Session).FindAsync(key, cancellationToken).ConfigureAwait(false);
        return new ClusterWarmStart(context, key, state, why);
    }

    /// <summary>Run on the created container before it starts: copies the saved state in, or says why the start is cold.</summary>
    public async Task RestoreAsync(string containerId, CancellationToken cancellationToken)
    {
        Restored = false;
        if (_state is null || _key is null)
        {
            // Once, though this runs for each container the start creates (a refused privileged one, then the fallback).
            if ((_key is not null || _context.Settings.Kubernetes) && !_coldSaid)
            {
                _coldSaid = true;
                _context.Session.Log.Info($"cluster {_context.Name}: cold start: {ColdReason}");
            }

            return;
        }

        var watch = Stopwatch.StartNew();
        Restored = await _store.RestoreAsync(_context.Name, _state, _key, containerId, _context.Image, cancellationToken).ConfigureAwait(false);
        RestoreTime = watch.Elapsed;
        if (Restored)
        {
            _context.Session.Log.Info($"cluster {_context.Name}: warm start from {_state.Volume} (saved {_state.Saved:u}, copied in {RestoreTime.Value.TotalSeconds:0.0}s)");
        }
        else
        {
            ColdReason = $"the saved state {_state.Volume} could not be used (see the warning above)";
        }
    }

    /// <summary>Removes the state this start restored (it did not come up), so the next start does not try it again.</summary>
    public async Task ForgetStateAsync(CancellationToken cancellationToken)
    {
        if (_state is not null)
        {
            await _store.RemoveAsync(_state.Volume, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>After readiness: a cold start saves its state (nothing deployed yet); a warm one drops stale nodes.</summary>
    public async Task AfterReadyAsync(KubeDindCluster cluster, DateTimeOffset containerStartedAt, CancellationToken cancellationToken)
    {
        if (_key is null)
        {
            return;
        }

        if (Restored)
        {
            await RemoveStaleNodesAsync(cluster, containerStartedAt, cancellationToken).ConfigureAwait(false);
            return;
        }

        var watch = Stopwatch.StartNew();
        await ForgetServingSecretAsync(cluster, cancellationToken).ConfigureAwait(false);
        var saved = await _store.SaveAsync(cluster.Name, cluster.ContainerId, cluster.Image, _key, cancellationToken).ConfigureAwait(false);
        SaveTime = watch.Elapsed;
        if (saved is not null)
        {
            _context.Session.Log.Info($"cluster {cluster.Name}: state saved for warm starts as {saved.Volume} in {SaveTime.Value.TotalSeconds:0.0}s (key {_key.Hash}: {_key})");
        }
    }

    /// <summary>
    /// k3s keeps its API serving certificate in a file (left out of saved states, see ClusterStateStore) and in the secret
    /// kube-system/k3s-serving. Restored, the secret names the saved container's address and name: when k3s's secret
    /// controller starts (late, 10-20 s into a start here) it swaps that stored certificate in over the one k3s made at
    /// start for this container, then makes a new one again (measured: three swaps within 5 s). Saved without the
    /// secret, k3s creates it from the certificate it serves, and nothing swaps. The running cluster does not need it:
    /// k3s writes it again when it next adds a name.
    /// </summary>
    private async Task ForgetServingSecretAsync(KubeDindCluster cluster, CancellationToken cancellationToken)
    {
        try
        {
            await cluster.Kubernetes.CoreV1.DeleteNamespacedSecretAsync(ClusterGates.ServingSecret, "kube-system", cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (k8s.Autorest.HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // Not written yet: nothing to leave out.
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _context.Session.Log.Debug($"cluster {cluster.Name}: could not leave the secret {ClusterGates.ServingSecret} out of the saved state ({ex.Message.Split('\n')[0]}); warm starts wait for k3s to settle its certificate");
        }
    }

    /// <summary>Nodes from the saved state that did not report since this container started (their name changed).</summary>
    private async Task RemoveStaleNodesAsync(KubeDindCluster cluster, DateTimeOffset startedAt, CancellationToken cancellationToken)
    {
        try
        {
            var nodes = await cluster.Kubernetes.CoreV1.ListNodeAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var node in nodes.Items.Where(n => !ClusterFreshness.HasReportedSince(n, startedAt)))
            {
                await cluster.Kubernetes.CoreV1.DeleteNodeAsync(node.Name(), cancellationToken: cancellationToken).ConfigureAwait(false);
                _context.Session.Log.Info($"cluster {cluster.Name}: removed node {node.Name()} left from the saved state (it has not reported since the start)");
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _context.Session.Log.Warn($"cluster {cluster.Name}: could not remove stale nodes of the saved state: {ex.Message.Split('\n')[0]}");
        }
    }
}

/// <summary>
/// On a restored state the node and pod objects still say Ready from before the container stopped: readiness must
/// see a signal fresher than the container's start (a node heartbeat, a container start), never the stale status.
/// </summary>
internal static class ClusterFreshness
{
    /// <summary>Kubernetes times have whole seconds: a signal in the start's own second counts as fresh.</summary>
    public static DateTimeOffset Floor(DateTimeOffset startedAt) => new(startedAt.Ticks - (startedAt.Ticks % TimeSpan.TicksPerSecond), startedAt.Offset);

    public static bool HasReportedSince(V1Node node, DateTimeOffset startedAt)
    {
        ArgumentNullException.ThrowIfNull(node);
        var ready = node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
        return ready?.LastHeartbeatTime is { } heartbeat && Utc(heartbeat) >= Floor(startedAt);
    }

    public static bool IsFreshReady(V1Node node, DateTimeOffset startedAt) =>
        HasReportedSince(node, startedAt) && node.Status!.Conditions!.Any(c => c.Type == "Ready" && c.Status == "True");

    /// <summary>The taint the node lifecycle controller keeps on a node whose Ready condition is not True.</summary>
    public const string NotReadyTaint = "node.kubernetes.io/not-ready";

    /// <summary>
    /// Whether <paramref name="node"/> is Ready since <paramref name="startedAt"/> but still carries the not-ready taint:
    /// a state saved before the node lifecycle controller removed it restores it, and that controller starts seconds
    /// after the API answers, so pods applied in between could not be scheduled (each failed try doubles the
    /// scheduler's wait before the next, up to 10 s).
    /// </summary>
    public static bool HasStaleNotReadyTaint(V1Node node, DateTimeOffset startedAt) =>
        IsFreshReady(node, startedAt) && node.Spec?.Taints?.Any(t => t.Key == NotReadyTaint) == true;

    /// <summary>Ready, and every container of the pod started after the container did (a pod from the saved state is not).</summary>
    public static bool IsFreshReady(V1Pod pod, DateTimeOffset startedAt)
    {
        ArgumentNullException.ThrowIfNull(pod);
        if (pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") != true)
        {
            return false;
        }

        return pod.Status.ContainerStatuses?.All(c => c.State?.Running?.StartedAt is { } at && Utc(at) >= Floor(startedAt)) == true;
    }

    /// <summary>Whether <paramref name="storageClass"/> says KubeDind's storage fallback began binding claims since <paramref name="startedAt"/> (<see cref="ImageContract.StorageServingSinceAnnotation"/>).</summary>
    public static bool IsStorageServingSince(V1StorageClass storageClass, DateTimeOffset startedAt)
    {
        ArgumentNullException.ThrowIfNull(storageClass);
        return storageClass.Metadata?.Annotations?.TryGetValue(ImageContract.Current.StorageServingSinceAnnotation, out var since) == true
            && DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
            && at >= Floor(startedAt);
    }

    private static DateTimeOffset Utc(DateTime time) =>
        new(time.Kind == DateTimeKind.Local ? time.ToUniversalTime() : DateTime.SpecifyKind(time, DateTimeKind.Utc));
}
