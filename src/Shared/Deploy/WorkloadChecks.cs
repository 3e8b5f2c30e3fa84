using System.Text.Json.Nodes;

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

/// <summary>Reads one workload kind's status; one small object per kind.</summary>
internal interface IWorkloadCheck
{
    string Kind { get; }

    /// <summary>What the check waits for, for the timeout message.</summary>
    string WaitsFor { get; }

    RolloutStatus Evaluate(JsonNode live);
}

internal static class WorkloadChecks
{
    public static readonly IReadOnlyList<IWorkloadCheck> All =
        [new DeploymentCheck(), new StatefulSetCheck(), new DaemonSetCheck(), new JobCheck(), new PodCheck()];

    public static IWorkloadCheck? For(string kind) => All.FirstOrDefault(c => c.Kind == kind);

    internal static long Int(JsonNode? node, string path)
    {
        foreach (var part in path.Split('.'))
        {
            node = node?[part];
        }

        return node is JsonValue v && v.TryGetValue<long>(out var l) ? l : node is JsonValue d && d.TryGetValue<double>(out var x) ? (long)x : 0;
    }

    internal static bool ObservedCurrentGeneration(JsonNode live, out string observation)
    {
        var generation = Int(live, "metadata.generation");
        var observed = Int(live, "status.observedGeneration");
        observation = $"controller has seen generation {observed} of {generation}";
        return generation == 0 || observed >= generation;
    }

    internal static JsonObject? Condition(JsonNode live, string type) =>
        (live["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(c => (string?)c["type"] == type);
}

internal sealed class DeploymentCheck : IWorkloadCheck
{
    public string Kind => "Deployment";

    public string WaitsFor => "all replicas updated and available";

    public RolloutStatus Evaluate(JsonNode live)
    {
        if (WorkloadChecks.Condition(live, "Progressing") is { } progressing && (string?)progressing["reason"] == "ProgressDeadlineExceeded")
        {
            return RolloutStatus.Failed($"progress deadline exceeded: {(string?)progressing["message"]}");
        }

        if (!WorkloadChecks.ObservedCurrentGeneration(live, out var seen))
        {
            return RolloutStatus.Progressing(seen);
        }

        var wanted = live["spec"]?["replicas"] is null ? 1 : WorkloadChecks.Int(live, "spec.replicas");
        var updated = WorkloadChecks.Int(live, "status.updatedReplicas");
        var total = WorkloadChecks.Int(live, "status.replicas");
        var available = WorkloadChecks.Int(live, "status.availableReplicas");
        var observation = $"{updated}/{wanted} updated, {available}/{wanted} available" + (total > updated ? $", {total - updated} old still running" : string.Empty);
        return updated >= wanted && available >= wanted && total <= updated ? RolloutStatus.Ready(observation) : RolloutStatus.Progressing(observation);
    }
}

internal sealed class StatefulSetCheck : IWorkloadCheck
{
    public string Kind => "StatefulSet";

    public string WaitsFor => "all replicas ready on the current revision";

    public RolloutStatus Evaluate(JsonNode live)
    {
        if (!WorkloadChecks.ObservedCurrentGeneration(live, out var seen))
        {
            return RolloutStatus.Progressing(seen);
        }

        var wanted = live["spec"]?["replicas"] is null ? 1 : WorkloadChecks.Int(live, "spec.replicas");
        var ready = WorkloadChecks.Int(live, "status.readyReplicas");
        var updated = WorkloadChecks.Int(live, "status.updatedReplicas");
        var onDelete = (string?)live["spec"]?["updateStrategy"]?["type"] == "OnDelete";
        var current = (string?)live["status"]?["currentRevision"];
        var update = (string?)live["status"]?["updateRevision"];
        var observation = $"{ready}/{wanted} ready, {updated}/{wanted} updated";
        var rolled = onDelete || (updated >= wanted && (update is null || current == update));
        return ready >= wanted && rolled ? RolloutStatus.Ready(observation) : RolloutStatus.Progressing(observation);
    }
}

internal sealed class DaemonSetCheck : IWorkloadCheck
{
    public string Kind => "DaemonSet";

    public string WaitsFor => "a pod updated and available on every scheduled node";

    public RolloutStatus Evaluate(JsonNode live)
    {
        if (!WorkloadChecks.ObservedCurrentGeneration(live, out var seen))
        {
            return RolloutStatus.Progressing(seen);
        }

        var desired = WorkloadChecks.Int(live, "status.desiredNumberScheduled");
        var updated = WorkloadChecks.Int(live, "status.updatedNumberScheduled");
        var available = WorkloadChecks.Int(live, "status.numberAvailable");
        var observation = $"{updated}/{desired} updated, {available}/{desired} available";
        return updated >= desired && available >= desired ? RolloutStatus.Ready(observation) : RolloutStatus.Progressing(observation);
    }
}

internal sealed class JobCheck : IWorkloadCheck
{
    public string Kind => "Job";

    public string WaitsFor => "the job to complete";

    public RolloutStatus Evaluate(JsonNode live)
    {
        if (WorkloadChecks.Condition(live, "Failed") is { } failed && (string?)failed["status"] == "True")
        {
            return RolloutStatus.Failed($"job failed ({(string?)failed["reason"]}): {(string?)failed["message"]}");
        }

        var succeeded = WorkloadChecks.Int(live, "status.succeeded");
        var active = WorkloadChecks.Int(live, "status.active");
        var failures = WorkloadChecks.Int(live, "status.failed");
        var observation = $"{succeeded} succeeded, {active} running, {failures} failed";
        return WorkloadChecks.Condition(live, "Complete") is { } complete && (string?)complete["status"] == "True"
            ? RolloutStatus.Ready(observation)
            : RolloutStatus.Progressing(observation);
    }
}

internal sealed class PodCheck : IWorkloadCheck
{
    public string Kind => "Pod";

    public string WaitsFor => "the pod to be Ready (or to succeed)";

    public RolloutStatus Evaluate(JsonNode live)
    {
        var phase = (string?)live["status"]?["phase"] ?? "Pending";
        if (phase == "Succeeded")
        {
            return RolloutStatus.Ready("succeeded");
        }

        if (phase == "Failed")
        {
            return RolloutStatus.Failed($"pod failed: {(string?)live["status"]?["reason"]} {(string?)live["status"]?["message"]}".TrimEnd());
        }

        var ready = WorkloadChecks.Condition(live, "Ready") is { } condition && (string?)condition["status"] == "True";
        return ready ? RolloutStatus.Ready($"{phase}, ready") : RolloutStatus.Progressing($"{phase}, not ready");
    }
}
