using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using KubeDind.Deploy;
using KubeDind.Logging;

namespace KubeDind.Diagnostics;

/// <summary>A workload whose rollout failed, and what the wait last saw.</summary>
public sealed record FailingWorkload(string Name, string Kind, string Namespace, string? PodSelector, string Observation);

/// <summary>A diagnostics folder: where it is, what it holds, and the one-line causes it found.</summary>
public sealed record DiagnosticsBundle(string Directory, IReadOnlyList<string> Files, IReadOnlyList<string> Summary);

/// <summary>
/// Writes what explains a failed deploy into <c>&lt;artifacts&gt;/&lt;cluster&gt;/diagnostics-&lt;time&gt;/</c>:
/// events sorted by time, every pod's phase and container states, the last lines of every container's
/// log (and of the previous instance after a restart), the node's conditions, the cluster's own logs
/// (k3s, inner dockerd) and a summary naming each failing workload's most likely cause. Collecting never
/// throws for a part it cannot read: that part's file says why instead.
/// </summary>
internal sealed class DiagnosticsCollector
{
    private readonly KubeApi _api;
    private readonly DeployContext _context;
    private readonly int _tailLines;

    public DiagnosticsCollector(IKubernetes client, DeployContext context, int tailLines = 200)
    {
        _api = new KubeApi(client);
        _context = context;
        _tailLines = tailLines;
    }

    public async Task<DiagnosticsBundle> CollectAsync(IReadOnlyList<FailingWorkload> failing, CancellationToken cancellationToken)
    {
        var directory = Path.GetFullPath(Path.Combine(_context.ArtifactsDirectory, _context.ClusterName, "diagnostics-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss-fff", CultureInfo.InvariantCulture)));
        System.IO.Directory.CreateDirectory(directory);
        var files = new List<string>();

        async Task WriteAsync(string relative, string text)
        {
            var path = Path.Combine(directory, relative);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllTextAsync(path, text, cancellationToken).ConfigureAwait(false);
            files.Add(relative.Replace('\\', '/'));
        }

        var events = await ListAsync("/api/v1/events", cancellationToken).ConfigureAwait(false);
        var pods = await ListAsync("/api/v1/pods", cancellationToken).ConfigureAwait(false);
        var nodes = await ListAsync("/api/v1/nodes", cancellationToken).ConfigureAwait(false);

        await WriteAsync("events.txt", FormatEvents(events.Items, events.Error)).ConfigureAwait(false);
        await WriteAsync("pods.txt", FormatPods(pods.Items, pods.Error)).ConfigureAwait(false);
        await WriteAsync("nodes.txt", FormatNodes(nodes.Items, nodes.Error)).ConfigureAwait(false);

        var lastLines = new Dictionary<(string Pod, string Container, bool Previous), string?>();
        foreach (var pod in pods.Items)
        {
            foreach (var status in PodStates.ContainerStatuses(pod))
            {
                var container = (string?)status["name"] ?? "?";
                var instances = WorkloadChecks.Int(status, "restartCount") > 0 || status["lastState"]?["terminated"] is not null ? new[] { false, true } : [false];
                foreach (var previous in instances)
                {
                    var log = await ReadLogAsync(pod, container, previous, cancellationToken).ConfigureAwait(false);
                    lastLines[(PodStates.Name(pod), container, previous)] = log.Text?.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
                    await WriteAsync(Path.Combine("logs", $"{PodStates.Namespace(pod)}.{PodStates.Name(pod)}.{container}{(previous ? ".previous" : string.Empty)}.log"), log.Text ?? $"(could not read the log: {log.Error})\n").ConfigureAwait(false);
                }
            }
        }

        if (_context.ExtraLogs is { } extraLogs)
        {
            try
            {
                foreach (var (name, text) in await extraLogs(cancellationToken).ConfigureAwait(false))
                {
                    await WriteAsync(Path.Combine("cluster", SafeFileName(name) + ".log"), text).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                await WriteAsync(Path.Combine("cluster", "unavailable.txt"), $"could not read the cluster's own logs: {ex.Message}\n").ConfigureAwait(false);
            }
        }

        var summary = new List<string>();
        foreach (var workload in failing)
        {
            var own = pods.Items.Where(p => PodStates.Namespace(p) == workload.Namespace && BelongsTo(p, workload)).ToList();
            var nsEvents = events.Items.Where(e => ((string?)e["metadata"]?["namespace"] ?? workload.Namespace) == workload.Namespace).ToList();
            summary.Add(FailureSummary.Describe(workload.Name, own, nsEvents, (pod, container, previous) => lastLines.GetValueOrDefault((pod, container, previous)), workload.Observation));
        }

        if (failing.Count == 0)
        {
            // On demand: explain every pod that is stuck.
            foreach (var pod in pods.Items.Where(p => PodStates.HardFailure(p) is not null || (string?)p["status"]?["phase"] is "Failed" or "Pending"))
            {
                summary.Add(FailureSummary.Describe(PodStates.Name(pod), [pod], events.Items, (p, c, prev) => lastLines.GetValueOrDefault((p, c, prev))));
            }

            if (summary.Count == 0)
            {
                summary.Add("no failing pods found");
            }
        }

        await WriteAsync("summary.txt", string.Join('\n', summary) + "\n").ConfigureAwait(false);
        files.Sort(StringComparer.Ordinal);
        _context.Log.Info($"Diagnostics for {_context.ClusterName} written to {directory} ({files.Count} files)");
        return new DiagnosticsBundle(directory, files, summary);
    }

    private static bool BelongsTo(JsonNode pod, FailingWorkload workload)
    {
        if (workload.Kind == "Pod")
        {
            return PodStates.Name(pod) == workload.Name;
        }

        if (workload.PodSelector is null)
        {
            return false;
        }

        var labels = pod["metadata"]?["labels"] as JsonObject;
        return workload.PodSelector.Split(',').All(pair =>
        {
            var parts = pair.Split('=', 2);
            return labels is not null && (string?)labels[parts[0]] == parts[1];
        });
    }

    private async Task<(IReadOnlyList<JsonNode> Items, string? Error)> ListAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            var list = await _api.GetAsync(path, cancellationToken).ConfigureAwait(false);
            return ((list?["items"] as JsonArray ?? []).OfType<JsonNode>().ToList(), null);
        }
        catch (KubeDindException ex)
        {
            return ([], ex.Message);
        }
    }

    private async Task<(string? Text, string? Error)> ReadLogAsync(JsonNode pod, string container, bool previous, CancellationToken cancellationToken)
    {
        var path = $"/api/v1/namespaces/{Uri.EscapeDataString(PodStates.Namespace(pod))}/pods/{Uri.EscapeDataString(PodStates.Name(pod))}/log?container={Uri.EscapeDataString(container)}&tailLines={_tailLines}" + (previous ? "&previous=true" : string.Empty);
        try
        {
            var (status, body, text) = await _api.SendAsync(HttpMethod.Get, path, null, null, cancellationToken).ConfigureAwait(false);
            return (int)status < 300 ? (text, null) : (null, KubeApi.StatusMessage(status, body, text));
        }
        catch (KubeDindException ex)
        {
            return (null, ex.Message);
        }
    }

    internal static DateTimeOffset EventTime(JsonNode e)
    {
        foreach (var candidate in new[] { (string?)e["lastTimestamp"], (string?)e["eventTime"], (string?)e["firstTimestamp"], (string?)e["metadata"]?["creationTimestamp"] })
        {
            if (DateTimeOffset.TryParse(candidate, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
            {
                return time;
            }
        }

        return DateTimeOffset.MinValue;
    }

    internal static string FormatEvents(IReadOnlyList<JsonNode> events, string? error)
    {
        var text = new StringBuilder();
        if (error is not null)
        {
            text.AppendLine(FormattableString.Invariant($"(could not list events: {error})"));
        }

        foreach (var e in events.OrderBy(EventTime))
        {
            var involved = e["involvedObject"];
            var count = WorkloadChecks.Int(e, "count");
            text.AppendLine(FormattableString.Invariant($"{EventTime(e):yyyy-MM-ddTHH:mm:ssZ} {(string?)e["type"],-8} {(string?)e["reason"],-24} {(string?)involved?["kind"]}/{(string?)involved?["namespace"] ?? (string?)e["metadata"]?["namespace"]}/{(string?)involved?["name"]}{(count > 1 ? $" (x{count})" : string.Empty)}: {(string?)e["message"]}"));
        }

        return text.Length == 0 ? "(no events)\n" : text.ToString();
    }

    internal static string FormatPods(IReadOnlyList<JsonNode> pods, string? error)
    {
        var text = new StringBuilder();
        if (error is not null)
        {
            text.AppendLine(FormattableString.Invariant($"(could not list pods: {error})"));
        }

        foreach (var pod in pods)
        {
            text.AppendLine(FormattableString.Invariant($"{PodStates.Namespace(pod)}/{PodStates.Name(pod)}: {(string?)pod["status"]?["phase"] ?? "?"}{((string?)pod["status"]?["reason"] is { } r ? $" ({r})" : string.Empty)} on {(string?)pod["spec"]?["nodeName"] ?? "no node"}"));
            foreach (var condition in (pod["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>().Where(c => (string?)c["status"] != "True"))
            {
                text.AppendLine($"  condition {(string?)condition["type"]}={(string?)condition["status"]} {(string?)condition["reason"]} {(string?)condition["message"]}".TrimEnd());
            }

            foreach (var status in PodStates.ContainerStatuses(pod))
            {
                text.AppendLine(FormattableString.Invariant($"  container {(string?)status["name"]} image {(string?)status["image"]} ready={(bool?)status["ready"] ?? false} restarts={WorkloadChecks.Int(status, "restartCount")}"));
                text.AppendLine(FormattableString.Invariant($"    state: {DescribeState(status["state"])}"));
                if (status["lastState"] is JsonObject { Count: > 0 } last)
                {
                    text.AppendLine(FormattableString.Invariant($"    last state: {DescribeState(last)}"));
                }
            }
        }

        return text.Length == 0 ? "(no pods)\n" : text.ToString();
    }

    internal static string FormatNodes(IReadOnlyList<JsonNode> nodes, string? error)
    {
        var text = new StringBuilder();
        if (error is not null)
        {
            text.AppendLine(FormattableString.Invariant($"(could not list nodes: {error})"));
        }

        foreach (var node in nodes)
        {
            text.AppendLine(FormattableString.Invariant($"{(string?)node["metadata"]?["name"]}:"));
            foreach (var condition in (node["status"]?["conditions"] as JsonArray ?? []).OfType<JsonObject>())
            {
                text.AppendLine($"  {(string?)condition["type"]}={(string?)condition["status"]} {(string?)condition["reason"]} {(string?)condition["message"]}".TrimEnd());
            }
        }

        return text.Length == 0 ? "(no nodes)\n" : text.ToString();
    }

    private static string DescribeState(JsonNode? state) => state switch
    {
        JsonObject s when s["waiting"] is { } w => $"waiting {(string?)w["reason"]} {(string?)w["message"]}".TrimEnd(),
        JsonObject s when s["terminated"] is { } t => $"terminated {(string?)t["reason"]} exit code {WorkloadChecks.Int(t, "exitCode")} {(string?)t["message"]}".TrimEnd(),
        JsonObject s when s["running"] is { } r => $"running since {(string?)r["startedAt"]}",
        _ => "unknown",
    };

    private static string SafeFileName(string name) =>
        string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
}
