using k8s;
using k8s.Models;

namespace KubeDind.Deploy;

/// <summary>What a workload's status says now: rolled out, failed for good, or still going (and what is missing).</summary>
public sealed record RolloutStatus(RolloutState State, string Observation)
{
    public static RolloutStatus Ready(string observation) => new(RolloutState.Ready, observation);

    public static RolloutStatus Progressing(string observation) => new(RolloutState.Progressing, observation);

    public static RolloutStatus Failed(string observation) => new(RolloutState.Failed, observation);
}

public enum RolloutState
{
    Progressing,
    Ready,
    Failed,
    TimedOut,
    NotWaited,
}

/// <summary>A workload as read: its rollout status, its live pod selector, the pod itself for a bare Pod, and the spec its pods are made from.</summary>
internal sealed record LiveWorkload(RolloutStatus Status, V1LabelSelector? Selector, V1Pod? Pod, V1PodSpec? PodSpec);

/// <summary>Reads one workload kind through its typed model; one small object per kind.</summary>
internal interface IWorkloadCheck
{
    string Kind { get; }

    /// <summary>What the check waits for, for the timeout message.</summary>
    string WaitsFor { get; }

    /// <summary>The live workload, or null when it does not exist.</summary>
    Task<LiveWorkload?> ReadAsync(IKubernetes client, string name, string @namespace, CancellationToken cancellationToken);

    /// <summary>One item per change the API reports to objects of this kind in <paramref name="namespace"/>.</summary>
    IAsyncEnumerable<object> WatchAsync(IKubernetes client, string @namespace, Action<Exception> onError, CancellationToken cancellationToken);
}

internal abstract class WorkloadCheck<T> : IWorkloadCheck
    where T : class
{
    public abstract string Kind { get; }

    public abstract string WaitsFor { get; }

    public async Task<LiveWorkload?> ReadAsync(IKubernetes client, string name, string @namespace, CancellationToken cancellationToken)
    {
        var live = await client.ReadOrNullAsync($"Deploy: reading {Kind} {@namespace}/{name}", c => ReadLiveAsync(c, name, @namespace, cancellationToken)).ConfigureAwait(false);
        return live is null ? null : new LiveWorkload(Evaluate(live), SelectorOf(live), live as V1Pod, PodSpecOf(live));
    }

    public async IAsyncEnumerable<object> WatchAsync(IKubernetes client, string @namespace, Action<Exception> onError, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var (_, changed) in WatchLiveAsync(client, @namespace, onError, cancellationToken).ConfigureAwait(false))
        {
            yield return changed;
        }
    }

    public abstract RolloutStatus Evaluate(T live);

    protected abstract IAsyncEnumerable<(WatchEventType, T)> WatchLiveAsync(IKubernetes client, string @namespace, Action<Exception> onError, CancellationToken cancellationToken);

    protected abstract Task<T> ReadLiveAsync(IKubernetes client, string name, string @namespace, CancellationToken cancellationToken);

    protected abstract V1LabelSelector? SelectorOf(T live);

    protected abstract V1PodSpec? PodSpecOf(T live);

    protected static bool ObservedCurrentGeneration(long? generation, long? observed, out string observation)
    {
        observation = $"controller has seen generation {observed ?? 0} of {generation ?? 0}";
        return (generation ?? 0) == 0 || (observed ?? 0) >= generation;
    }
}

internal static class WorkloadChecks
{
    public static readonly IReadOnlyList<IWorkloadCheck> All =
        [new DeploymentCheck(), new StatefulSetCheck(), new DaemonSetCheck(), new JobCheck(), new PodCheck()];

    public static IWorkloadCheck? For(string kind) => All.FirstOrDefault(c => c.Kind == kind);
}

internal sealed class DeploymentCheck : WorkloadCheck<V1Deployment>
{
    public override string Kind => "Deployment";

    public override string WaitsFor => "all replicas updated and available";

    public override RolloutStatus Evaluate(V1Deployment live)
    {
        var progressing = live.Status?.Conditions?.FirstOrDefault(c => c.Type == "Progressing");
        if (progressing?.Reason == "ProgressDeadlineExceeded")
        {
            return RolloutStatus.Failed($"progress deadline exceeded: {progressing.Message}");
        }

        if (!ObservedCurrentGeneration(live.Metadata?.Generation, live.Status?.ObservedGeneration, out var seen))
        {
            return RolloutStatus.Progressing(seen);
        }

        var wanted = live.Spec?.Replicas ?? 1;
        var updated = live.Status?.UpdatedReplicas ?? 0;
        var total = live.Status?.Replicas ?? 0;
        var available = live.Status?.AvailableReplicas ?? 0;
        var observation = $"{updated}/{wanted} updated, {available}/{wanted} available" + (total > updated ? $", {total - updated} old still running" : string.Empty);
        return updated >= wanted && available >= wanted && total <= updated ? RolloutStatus.Ready(observation) : RolloutStatus.Progressing(observation);
    }

    protected override IAsyncEnumerable<(WatchEventType, V1Deployment)> WatchLiveAsync(IKubernetes client, string @namespace, Action<Exception> onError, CancellationToken cancellationToken) =>
        client.AppsV1.WatchListNamespacedDeploymentAsync(@namespace, onError: onError, cancellationToken: cancellationToken);

    protected override Task<V1Deployment> ReadLiveAsync(IKubernetes client, string name, string @namespace, CancellationToken cancellationToken) =>
        client.AppsV1.ReadNamespacedDeploymentAsync(name, @namespace, cancellationToken: cancellationToken);

    protected override V1LabelSelector? SelectorOf(V1Deployment live) => live.Spec?.Selector;

    protected override V1PodSpec? PodSpecOf(V1Deployment live) => live.Spec?.Template?.Spec;
}

internal sealed class StatefulSetCheck : WorkloadCheck<V1StatefulSet>
{
    public override string Kind => "StatefulSet";

    public override string WaitsFor => "all replicas ready on the current revision";

    public override RolloutStatus Evaluate(V1StatefulSet live)
    {
        if (!ObservedCurrentGeneration(live.Metadata?.Generation, live.Status?.ObservedGeneration, out var seen))
        {
            return RolloutStatus.Progressing(seen);
        }

        var wanted = live.Spec?.Replicas ?? 1;
        var ready = live.Status?.ReadyReplicas ?? 0;
        var updated = live.Status?.UpdatedReplicas ?? 0;
        var onDelete = live.Spec?.UpdateStrategy?.Type == "OnDelete";
        var current = live.Status?.CurrentRevision;
        var update = live.Status?.UpdateRevision;
        var observation = $"{ready}/{wanted} ready, {updated}/{wanted} updated";
        var rolled = onDelete || (updated >= wanted && (update is null || current == update));
        return ready >= wanted && rolled ? RolloutStatus.Ready(observation) : RolloutStatus.Progressing(observation);
    }

    protected override IAsyncEnumerable<(WatchEventType, V1StatefulSet)> WatchLiveAsync(IKubernetes client, string @namespace, Action<Exception> onError, CancellationToken cancellationToken) =>
        client.AppsV1.WatchListNamespacedStatefulSetAsync(@namespace, onError: onError, cancellationToken: cancellationToken);

    protected override Task<V1StatefulSet> ReadLiveAsync(IKubernetes client, string name, string @namespace, CancellationToken cancellationToken) =>
        client.AppsV1.ReadNamespacedStatefulSetAsync(name, @namespace, cancellationToken: cancellationToken);

    protected override V1LabelSelector? SelectorOf(V1StatefulSet live) => live.Spec?.Selector;

    protected override V1PodSpec? PodSpecOf(V1StatefulSet live) => live.Spec?.Template?.Spec;
}

internal sealed class DaemonSetCheck : WorkloadCheck<V1DaemonSet>
{
    public override string Kind => "DaemonSet";

    public override string WaitsFor => "a pod updated and available on every scheduled node";

    public override RolloutStatus Evaluate(V1DaemonSet live)
    {
        if (!ObservedCurrentGeneration(live.Metadata?.Generation, live.Status?.ObservedGeneration, out var seen))
        {
            return RolloutStatus.Progressing(seen);
        }

        var desired = live.Status?.DesiredNumberScheduled ?? 0;
        var updated = live.Status?.UpdatedNumberScheduled ?? 0;
        var available = live.Status?.NumberAvailable ?? 0;
        var observation = $"{updated}/{desired} updated, {available}/{desired} available";
        return updated >= desired && available >= desired ? RolloutStatus.Ready(observation) : RolloutStatus.Progressing(observation);
    }

    protected override IAsyncEnumerable<(WatchEventType, V1DaemonSet)> WatchLiveAsync(IKubernetes client, string @namespace, Action<Exception> onError, CancellationToken cancellationToken) =>
        client.AppsV1.WatchListNamespacedDaemonSetAsync(@namespace, onError: onError, cancellationToken: cancellationToken);

    protected override Task<V1DaemonSet> ReadLiveAsync(IKubernetes client, string name, string @namespace, CancellationToken cancellationToken) =>
        client.AppsV1.ReadNamespacedDaemonSetAsync(name, @namespace, cancellationToken: cancellationToken);

    protected override V1LabelSelector? SelectorOf(V1DaemonSet live) => live.Spec?.Selector;

    protected override V1PodSpec? PodSpecOf(V1DaemonSet live) => live.Spec?.Template?.Spec;
}

internal sealed class JobCheck : WorkloadCheck<V1Job>
{
    public override string Kind => "Job";

    public override string WaitsFor => "the job to complete";

    public override RolloutStatus Evaluate(V1Job live)
    {
        if (live.Status?.Conditions?.FirstOrDefault(c => c.Type == "Failed" && c.Status == "True") is { } failed)
        {
            return RolloutStatus.Failed($"job failed ({failed.Reason}): {failed.Message}");
        }

        var observation = $"{live.Status?.Succeeded ?? 0} succeeded, {live.Status?.Active ?? 0} running, {live.Status?.Failed ?? 0} failed";
        return live.Status?.Conditions?.Any(c => c.Type == "Complete" && c.Status == "True") == true
            ? RolloutStatus.Ready(observation)
            : RolloutStatus.Progressing(observation);
    }

    protected override IAsyncEnumerable<(WatchEventType, V1Job)> WatchLiveAsync(IKubernetes client, string @namespace, Action<Exception> onError, CancellationToken cancellationToken) =>
        client.BatchV1.WatchListNamespacedJobAsync(@namespace, onError: onError, cancellationToken: cancellationToken);

    protected override Task<V1Job> ReadLiveAsync(IKubernetes client, string name, string @namespace, CancellationToken cancellationToken) =>
        client.BatchV1.ReadNamespacedJobAsync(name, @namespace, cancellationToken: cancellationToken);

    protected override V1LabelSelector? SelectorOf(V1Job live) => live.Spec?.Selector;

    protected override V1PodSpec? PodSpecOf(V1Job live) => live.Spec?.Template?.Spec;
}

internal sealed class PodCheck : WorkloadCheck<V1Pod>
{
    public override string Kind => "Pod";

    public override string WaitsFor => "the pod to be Ready (or to succeed)";

    public override RolloutStatus Evaluate(V1Pod live)
    {
        var phase = live.Status?.Phase ?? "Pending";
        if (phase == "Succeeded")
        {
            return RolloutStatus.Ready("succeeded");
        }

        if (phase == "Failed")
        {
            return RolloutStatus.Failed($"pod failed: {live.Status?.Reason} {live.Status?.Message}".TrimEnd());
        }

        return PodStates.IsReady(live) ? RolloutStatus.Ready($"{phase}, ready") : RolloutStatus.Progressing($"{phase}, not ready");
    }

    protected override IAsyncEnumerable<(WatchEventType, V1Pod)> WatchLiveAsync(IKubernetes client, string @namespace, Action<Exception> onError, CancellationToken cancellationToken) =>
        client.CoreV1.WatchListNamespacedPodAsync(@namespace, onError: onError, cancellationToken: cancellationToken);

    protected override Task<V1Pod> ReadLiveAsync(IKubernetes client, string name, string @namespace, CancellationToken cancellationToken) =>
        client.CoreV1.ReadNamespacedPodAsync(name, @namespace, cancellationToken: cancellationToken);

    protected override V1LabelSelector? SelectorOf(V1Pod live) => null;

    protected override V1PodSpec? PodSpecOf(V1Pod live) => live.Spec;
}
