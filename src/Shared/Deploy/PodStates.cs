using System.Text.Json.Nodes;

namespace KubeDind.Deploy;

/// <summary>Facts read off a pod's status, shared by the rollout wait (fail fast) and the failure summary.</summary>
internal static class PodStates
{
    /// <summary>Waiting reasons that do not fix themselves within a deploy's time.</summary>
    public static readonly IReadOnlySet<string> HardFailureReasons = new HashSet<string>(StringComparer.Ordinal)
    {
        "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
    };

    public static IEnumerable<JsonObject> ContainerStatuses(JsonNode pod) =>
        (pod["status"]?["initContainerStatuses"] as JsonArray ?? []).Concat(pod["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>();

    /// <summary>The first container stuck for good: (container, reason, message), or null.</summary>
    public static (string Container, string Reason, string? Message)? HardFailure(JsonNode pod)
    {
        foreach (var status in ContainerStatuses(pod))
        {
            var waiting = status["state"]?["waiting"];
            if ((string?)waiting?["reason"] is { } reason && HardFailureReasons.Contains(reason))
            {
                return ((string?)status["name"] ?? "?", reason, (string?)waiting?["message"]);
            }
        }

        return null;
    }

    public static string Name(JsonNode pod) => (string?)pod["metadata"]?["name"] ?? "?";

    public static string Namespace(JsonNode pod) => (string?)pod["metadata"]?["namespace"] ?? "default";

    /// <summary>"app=web,tier=front" from a workload's selector (matchLabels, else its template's labels), or null.</summary>
    public static string? SelectorOf(JsonNode workload)
    {
        var labels = workload["spec"]?["selector"]?["matchLabels"] as JsonObject
            ?? workload["spec"]?["template"]?["metadata"]?["labels"] as JsonObject;
        return labels is { Count: > 0 } ? string.Join(',', labels.Select(kv => $"{kv.Key}={kv.Value}")) : null;
    }
}
