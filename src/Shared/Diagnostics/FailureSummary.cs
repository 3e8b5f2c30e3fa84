using k8s.Models;
using KubeDind.Deploy;

namespace KubeDind.Diagnostics;

/// <summary>How much a failure says about what to change, most actionable first (the order a deploy reports them in).</summary>
public enum FailureKind
{
    /// <summary>An input is wrong: an image that is missing, refused or invalid; a missing ConfigMap, Secret, claim or StorageClass.</summary>
    Input,

    /// <summary>The program ran and failed: crash loop, non-zero exit, OOM kill, a failed Job.</summary>
    Crash,

    /// <summary>The scheduler found no place for a pod.</summary>
    Scheduling,

    /// <summary>Nothing specific: no pods, or pods running but not ready.</summary>
    Other,
}

/// <summary>One workload's most likely cause, in one line, and how actionable it is.</summary>
public sealed record FailureCause(string Line, FailureKind Kind)
{
    /// <summary>The workload (or, collected on demand, the pod) the line is about, as named at its start.</summary>
    public string? Workload { get; init; }

    /// <summary>The namespace of <see cref="Workload"/>, when known.</summary>
    public string? Namespace { get; init; }

    public override string ToString() => Line;
}

/// <summary>
/// Names a failing workload's most likely cause in one line, from its pods' container states, their
/// events and their last log lines: a missing or refused image, a crash loop with its exit code and last
/// log line, an OOM kill, a config error, a missing reference, an unschedulable pod.
/// </summary>
public static class FailureSummary
{
    /// <param name="workload">Short name used in the line ("web").</param>
    /// <param name="pods">The workload's pods as the API returns them.</param>
    /// <param name="events">Events of the namespace (any order).</param>
    /// <param name="lastLogLine">(pod, container, previous instance) → the last non-empty log line, or null.</param>
    /// <param name="observation">What the rollout wait last saw, used when the pods explain nothing.</param>
    /// <param name="knownCause">What failed the wait fast (a missing ConfigMap, claim, StorageClass), preferred over scheduling messages.</param>
    public static string Describe(
        string workload,
        IReadOnlyList<V1Pod> pods,
        IReadOnlyList<Corev1Event> events,
        Func<string, string, bool, string?> lastLogLine,
        string? observation = null,
        string? knownCause = null) => Explain(workload, pods, events, lastLogLine, observation, knownCause).Line;

    public static FailureCause Explain(
        string workload,
        IReadOnlyList<V1Pod> pods,
        IReadOnlyList<Corev1Event> events,
        Func<string, string, bool, string?> lastLogLine,
        string? observation = null,
        string? knownCause = null) =>
        ExplainWorkload(workload, pods, events, lastLogLine, observation, knownCause) with { Workload = workload };

    private static FailureCause ExplainWorkload(
        string workload,
        IReadOnlyList<V1Pod> pods,
        IReadOnlyList<Corev1Event> events,
        Func<string, string, bool, string?> lastLogLine,
        string? observation,
        string? knownCause)
    {
        ArgumentNullException.ThrowIfNull(pods);
        ArgumentNullException.ThrowIfNull(events);
        foreach (var pod in pods)
        {
            if (DescribeContainers(workload, pod, events, lastLogLine) is { } cause)
            {
                return cause;
            }
        }

        if (knownCause is { Length: > 0 })
        {
            return new($"{workload}: {knownCause}", FailureKind.Input);
        }

        if (pods.Count == 0)
        {
            var warning = events.Where(e => e.Type == "Warning" && (e.InvolvedObject?.Name ?? string.Empty).StartsWith(workload, StringComparison.Ordinal))
                .Select(e => e.Message).LastOrDefault(m => m is { Length: > 0 });
            return new(warning is null ? $"{workload}: no pods were created" + Suffix(observation) : $"{workload}: no pods were created: {FirstLine(warning)}", FailureKind.Other);
        }

        foreach (var pod in pods)
        {
            if (DescribePod(workload, pod, events) is { } cause)
            {
                return cause;
            }
        }

        return new($"{workload}: pods are running but not ready" + Suffix(observation), FailureKind.Other);
    }

    private static FailureCause? DescribeContainers(string workload, V1Pod pod, IReadOnlyList<Corev1Event> events, Func<string, string, bool, string?> lastLogLine)
    {
        var podName = PodStates.Name(pod);
        var podEvents = events.Where(e => e.InvolvedObject?.Name == podName).Select(e => e.Message ?? string.Empty).ToList();

        foreach (var status in PodStates.ContainerStatuses(pod))
        {
            var container = status.Name ?? "?";
            var image = ImageOf(pod, container) ?? status.Image ?? "?";
            var reason = status.State?.Waiting?.Reason;
            var message = status.State?.Waiting?.Message ?? string.Empty;
            var terminated = status.State?.Terminated ?? status.LastState?.Terminated;

            if (reason is "ErrImageNeverPull")
            {
                // The kubelet's only pull event here is "Error: ErrImageNeverPull"; the waiting message says why.
                return new($"{workload}: image {image} is not on the node and its imagePullPolicy is Never ({FirstLine(message)}) — drop imagePullPolicy: Never so the kubelet pulls it (PushImage)", FailureKind.Input);
            }

            if (reason is "ImagePullBackOff" or "ErrImagePull")
            {
                var text = string.Join('\n', podEvents.Append(message));
                if (text.Contains("unauthorized", StringComparison.OrdinalIgnoreCase) || text.Contains("authorization failed", StringComparison.OrdinalIgnoreCase)
                    || text.Contains("401", StringComparison.Ordinal) || text.Contains("403 Forbidden", StringComparison.OrdinalIgnoreCase))
                {
                    return new($"{workload}: image {image} pull refused as unauthorized — push it to the cluster's registry (PushImage) or give the pod imagePullSecrets for its registry", FailureKind.Input);
                }

                if (text.Contains("not found", StringComparison.OrdinalIgnoreCase) || text.Contains("manifest unknown", StringComparison.OrdinalIgnoreCase) || text.Contains("404", StringComparison.Ordinal))
                {
                    return new($"{workload}: image {image} not found — was it pushed?", FailureKind.Input);
                }

                if (text.Contains("connection refused", StringComparison.OrdinalIgnoreCase) || text.Contains("no such host", StringComparison.OrdinalIgnoreCase) || text.Contains("i/o timeout", StringComparison.OrdinalIgnoreCase))
                {
                    return new($"{workload}: image {image} could not be pulled: its registry is unreachable ({LastMatching(podEvents, "Failed to pull") ?? FirstLine(message)})", FailureKind.Input);
                }

                return new($"{workload}: image {image} could not be pulled ({LastMatching(podEvents, "Failed to pull") ?? FirstLine(message)}) — was it pushed?", FailureKind.Input);
            }

            if (reason is "InvalidImageName")
            {
                return new($"{workload}: image {image} is not a valid image reference — fix it in the manifest or DeploySettings.ImageRewrites", FailureKind.Input);
            }

            if (terminated?.Reason == "OOMKilled")
            {
                var limit = MemoryLimit(pod, container);
                return new($"{workload}: container {container} was OOMKilled" + (limit is null ? " (no memory limit set: the node ran out)" : $" (memory limit {limit}) — raise the limit or use less memory"), FailureKind.Crash);
            }

            if (terminated is { ExitCode: SigkillExitCode, Reason: null or "Error" } && MemoryLimit(pod, container) is { } memoryLimit && !KilledByKubelet(events, podName, container))
            {
                return new($"{workload}: container {container} was killed (exit code {SigkillExitCode}, SIGKILL), not by Kubernetes: most likely out of memory (memory limit {memoryLimit}) — raise the limit or use less memory", FailureKind.Crash);
            }

            if (reason is "CreateContainerConfigError" or "CreateContainerError" or "RunContainerError")
            {
                return new($"{workload}: container {container} cannot start ({reason}): {FirstLine(message)}", FailureKind.Input);
            }

            var exitCode = terminated?.ExitCode ?? 0;
            if (reason == "CrashLoopBackOff" || (terminated is not null && exitCode != 0))
            {
                var previous = status.State?.Terminated is null;
                var line = lastLogLine(podName, container, previous) ?? lastLogLine(podName, container, !previous);
                var what = reason == "CrashLoopBackOff" ? "is crash-looping" : "failed";
                return new($"{workload}: container {container} {what} (exit code {exitCode})" + (line is null ? ": it wrote no log" : $": last log line: {line}"), FailureKind.Crash);
            }
        }

        return null;
    }

    private static FailureCause? DescribePod(string workload, V1Pod pod, IReadOnlyList<Corev1Event> events)
    {
        var podName = PodStates.Name(pod);
        if (PodStates.Condition(pod, "PodScheduled") is { Status: "False" } scheduled)
        {
            return new($"{workload}: pod {podName} cannot be scheduled: {FirstLine(scheduled.Message ?? scheduled.Reason ?? "no reason given")}", FailureKind.Scheduling);
        }

        var mount = events.Where(e => e.InvolvedObject?.Name == podName && e.Reason == "FailedMount").Select(e => e.Message).LastOrDefault();
        if (mount is not null)
        {
            return new($"{workload}: pod {podName} cannot mount its volumes: {FirstLine(mount)}", FailureKind.Input);
        }

        var unhealthy = events.Where(e => e.InvolvedObject?.Name == podName && e.Reason == "Unhealthy").Select(e => e.Message).LastOrDefault();
        if (unhealthy is not null)
        {
            return new($"{workload}: pod {podName} is running but its probe fails: {FirstLine(unhealthy)}", FailureKind.Other);
        }

        return null;
    }

    /// <summary>
    /// A process killed by SIGKILL exits with 128 + 9. containerd names a kill by the memory cgroup's OOM killer only
    /// when its OOM event arrives in time: its shim watches the cgroup only once the process has started, and the
    /// kubelet keeps the first status it reads of an exited container. A process that allocates at once, on a loaded
    /// node, is reported as "Error" with this exit code instead.
    /// </summary>
    private const int SigkillExitCode = 137;

    private static string? MemoryLimit(V1Pod pod, string container) =>
        ContainerSpec(pod, container)?.Resources?.Limits is { } limits && limits.TryGetValue("memory", out var memory) ? memory.ToString() : null;

    /// <summary>
    /// Whether the kubelet stopped the container itself (a failed liveness or startup probe, a deletion): its "Killing"
    /// event points at the container by field path ("spec.containers{app}").
    /// </summary>
    private static bool KilledByKubelet(IReadOnlyList<Corev1Event> events, string podName, string container) =>
        events.Any(e => e.InvolvedObject?.Name == podName && e.Reason == "Killing"
            && (e.InvolvedObject.FieldPath ?? string.Empty).EndsWith($"{{{container}}}", StringComparison.Ordinal));

    private static V1Container? ContainerSpec(V1Pod pod, string container) =>
        (pod.Spec?.Containers ?? []).Concat(pod.Spec?.InitContainers ?? []).FirstOrDefault(c => c.Name == container);

    private static string? ImageOf(V1Pod pod, string container) => ContainerSpec(pod, container)?.Image;

    private static string? LastMatching(IEnumerable<string> messages, string word) =>
        messages.LastOrDefault(m => m.Contains(word, StringComparison.OrdinalIgnoreCase)) is { } m ? FirstLine(m) : null;

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? string.Empty;

    private static string Suffix(string? observation) => observation is { Length: > 0 } ? $" ({observation})" : string.Empty;
}
