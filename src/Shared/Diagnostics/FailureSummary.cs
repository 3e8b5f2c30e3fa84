using System.Text.Json.Nodes;
using KubeDind.Deploy;

namespace KubeDind.Diagnostics;

/// <summary>
/// Names a failing workload's most likely cause in one line, from its pods' container states, their
/// events and their last log lines: a missing image, a crash loop with its exit code and last log line,
/// an OOM kill, a config error, an unschedulable pod.
/// </summary>
public static class FailureSummary
{
    /// <param name="workload">Short name used in the line ("web").</param>
    /// <param name="pods">The workload's pods as the API returns them.</param>
    /// <param name="events">Events of the namespace (any order).</param>
    /// <param name="lastLogLine">(pod, container, previous instance) → the last non-empty log line, or null.</param>
    /// <param name="observation">What the rollout wait last saw, used when the pods explain nothing.</param>
    public static string Describe(
        string workload,
        IReadOnlyList<JsonNode> pods,
        IReadOnlyList<JsonNode> events,
        Func<string, string, bool, string?> lastLogLine,
        string? observation = null)
    {
        if (pods.Count == 0)
        {
            var warning = events.Where(e => (string?)e["type"] == "Warning" && ((string?)e["involvedObject"]?["name"] ?? string.Empty).StartsWith(workload, StringComparison.Ordinal))
                .Select(e => (string?)e["message"]).LastOrDefault(m => m is { Length: > 0 });
            return warning is null ? $"{workload}: no pods were created" + Suffix(observation) : $"{workload}: no pods were created: {FirstLine(warning)}";
        }

        foreach (var pod in pods)
        {
            if (DescribePod(workload, pod, events, lastLogLine) is { } cause)
            {
                return cause;
            }
        }

        return $"{workload}: pods are running but not ready" + Suffix(observation);
    }

    private static string? DescribePod(string workload, JsonNode pod, IReadOnlyList<JsonNode> events, Func<string, string, bool, string?> lastLogLine)
    {
        var podName = PodStates.Name(pod);
        var podEvents = events.Where(e => (string?)e["involvedObject"]?["name"] == podName).Select(e => (string?)e["message"] ?? string.Empty).ToList();

        foreach (var status in PodStates.ContainerStatuses(pod))
        {
            var container = (string?)status["name"] ?? "?";
            var image = ImageOf(pod, container) ?? (string?)status["image"] ?? "?";
            var waiting = status["state"]?["waiting"];
            var reason = (string?)waiting?["reason"];
            var message = (string?)waiting?["message"] ?? string.Empty;
            var terminated = status["state"]?["terminated"] ?? status["lastState"]?["terminated"];

            if (reason is "ImagePullBackOff" or "ErrImagePull" or "ErrImageNeverPull")
            {
                var text = string.Join('\n', podEvents.Append(message));
                if (text.Contains("not found", StringComparison.OrdinalIgnoreCase) || text.Contains("manifest unknown", StringComparison.OrdinalIgnoreCase) || text.Contains("404", StringComparison.Ordinal))
                {
                    return $"{workload}: image {image} not found — was it pushed?";
                }

                if (text.Contains("connection refused", StringComparison.OrdinalIgnoreCase) || text.Contains("no such host", StringComparison.OrdinalIgnoreCase) || text.Contains("i/o timeout", StringComparison.OrdinalIgnoreCase))
                {
                    return $"{workload}: image {image} could not be pulled: its registry is unreachable ({LastMatching(podEvents, "pull") ?? FirstLine(message)})";
                }

                return $"{workload}: image {image} could not be pulled ({LastMatching(podEvents, "pull") ?? FirstLine(message)}) — was it pushed?";
            }

            if (reason is "InvalidImageName")
            {
                return $"{workload}: image {image} is not a valid image reference — fix it in the manifest or DeploySettings.ImageRewrites";
            }

            if ((string?)terminated?["reason"] == "OOMKilled")
            {
                var limit = (string?)ContainerSpec(pod, container)?["resources"]?["limits"]?["memory"];
                return $"{workload}: container {container} was OOMKilled" + (limit is null ? " (no memory limit set: the node ran out)" : $" (memory limit {limit}) — raise the limit or use less memory");
            }

            if (reason is "CreateContainerConfigError" or "CreateContainerError" or "RunContainerError")
            {
                return $"{workload}: container {container} cannot start ({reason}): {FirstLine(message)}";
            }

            var exitCode = WorkloadChecks.Int(terminated, "exitCode");
            if (reason == "CrashLoopBackOff" || (terminated is not null && exitCode != 0))
            {
                var previous = status["state"]?["terminated"] is null;
                var line = lastLogLine(podName, container, previous) ?? lastLogLine(podName, container, !previous);
                var what = reason == "CrashLoopBackOff" ? "is crash-looping" : "failed";
                return $"{workload}: container {container} {what} (exit code {exitCode})" + (line is null ? ": it wrote no log" : $": last log line: {line}");
            }
        }

        var scheduled = (pod["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(c => (string?)c["type"] == "PodScheduled");
        if (scheduled is not null && (string?)scheduled["status"] == "False")
        {
            return $"{workload}: pod {podName} cannot be scheduled: {FirstLine((string?)scheduled["message"] ?? (string?)scheduled["reason"] ?? "no reason given")}";
        }

        var unhealthy = events.Where(e => (string?)e["involvedObject"]?["name"] == podName && (string?)e["reason"] == "Unhealthy").Select(e => (string?)e["message"]).LastOrDefault();
        if (unhealthy is not null)
        {
            return $"{workload}: pod {podName} is running but its probe fails: {FirstLine(unhealthy)}";
        }

        return null;
    }

    private static JsonNode? ContainerSpec(JsonNode pod, string container) =>
        (pod["spec"]?["containers"] as JsonArray ?? []).Concat(pod["spec"]?["initContainers"] as JsonArray ?? [])
            .FirstOrDefault(c => (string?)c?["name"] == container);

    private static string? ImageOf(JsonNode pod, string container) => (string?)ContainerSpec(pod, container)?["image"];

    private static string? LastMatching(IEnumerable<string> messages, string word) =>
        messages.LastOrDefault(m => m.Contains(word, StringComparison.OrdinalIgnoreCase)) is { } m ? FirstLine(m) : null;

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? string.Empty;

    private static string Suffix(string? observation) => observation is { Length: > 0 } ? $" ({observation})" : string.Empty;
}
