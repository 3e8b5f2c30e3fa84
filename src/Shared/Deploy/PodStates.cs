using k8s.Models;

namespace KubeDind.Deploy;

/// <summary>Facts read off a pod's status, shared by the rollout wait (fail fast) and the failure summary.</summary>
internal static class PodStates
{
    /// <summary>Waiting reasons that do not fix themselves within a deploy's time.</summary>
    public static readonly IReadOnlySet<string> HardFailureReasons = new HashSet<string>(StringComparer.Ordinal)
    {
        "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "CrashLoopBackOff", "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
    };

    public static IEnumerable<V1ContainerStatus> ContainerStatuses(V1Pod pod) =>
        (pod.Status?.InitContainerStatuses ?? []).Concat(pod.Status?.ContainerStatuses ?? []);

    /// <summary>The first container stuck for good: (container, reason, message), or null.</summary>
    public static (string Container, string Reason, string? Message)? HardFailure(V1Pod pod)
    {
        foreach (var status in ContainerStatuses(pod))
        {
            if (status.State?.Waiting?.Reason is { } reason && HardFailureReasons.Contains(reason) && !IsCacheSyncTimeout(reason, status.State.Waiting.Message))
            {
                return (status.Name ?? "?", reason, status.State.Waiting.Message);
            }
        }

        return null;
    }

    /// <summary>
    /// The kubelet's "failed to sync configmap cache: timed out waiting for the condition" (or secret): it waits only a
    /// second for its watch of a ConfigMap or Secret the container reads, which a loaded API server misses, and tries the
    /// pod again a few seconds later. Not a missing reference, so not a reason to give up. The kubelet reports both
    /// under one reason; only its message tells them apart.
    /// </summary>
    public static bool IsCacheSyncTimeout(string reason, string? message) =>
        reason == "CreateContainerConfigError" && message is not null
        && message.StartsWith("failed to sync ", StringComparison.Ordinal) && message.Contains(" cache: ", StringComparison.Ordinal);

    public static string Name(V1Pod pod) => pod.Metadata?.Name ?? "?";

    public static string Namespace(V1Pod pod) => pod.Metadata?.NamespaceProperty ?? "default";

    public static V1PodCondition? Condition(V1Pod pod, string type) =>
        pod.Status?.Conditions?.FirstOrDefault(c => c.Type == type);

    public static bool IsReady(V1Pod pod) => Condition(pod, "Ready")?.Status == "True";

    /// <summary>
    /// The label selector query ("app=web,tier in (a,b),!legacy") for a live object's selector, or null when it
    /// selects nothing.
    /// </summary>
    public static string? SelectorQuery(V1LabelSelector? selector)
    {
        if (selector is null)
        {
            return null;
        }

        var parts = (selector.MatchLabels ?? new Dictionary<string, string>()).Select(kv => $"{kv.Key}={kv.Value}").ToList();
        foreach (var expression in selector.MatchExpressions ?? [])
        {
            var values = string.Join(',', expression.Values ?? []);
            parts.Add(expression.OperatorProperty switch
            {
                "In" => $"{expression.Key} in ({values})",
                "NotIn" => $"{expression.Key} notin ({values})",
                "Exists" => expression.Key,
                "DoesNotExist" => "!" + expression.Key,
                _ => expression.Key,
            });
        }

        return parts.Count > 0 ? string.Join(',', parts) : null;
    }

    /// <summary>Whether <paramref name="pod"/>'s labels satisfy <paramref name="selector"/> (matchLabels and matchExpressions).</summary>
    public static bool Matches(V1LabelSelector? selector, V1Pod pod)
    {
        if (SelectorQuery(selector) is null)
        {
            return false;
        }

        var labels = pod.Metadata?.Labels ?? new Dictionary<string, string>();
        var byLabels = (selector!.MatchLabels ?? new Dictionary<string, string>()).All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);
        return byLabels && (selector.MatchExpressions ?? []).All(e => e.OperatorProperty switch
        {
            "In" => labels.TryGetValue(e.Key, out var v) && (e.Values ?? []).Contains(v),
            "NotIn" => !labels.TryGetValue(e.Key, out var v) || !(e.Values ?? []).Contains(v),
            "Exists" => labels.ContainsKey(e.Key),
            "DoesNotExist" => !labels.ContainsKey(e.Key),
            _ => false,
        });
    }
}
