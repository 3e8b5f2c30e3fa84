using System.Globalization;
using System.Text;
using k8s;
using k8s.Models;
using KubeDind.Deploy;
using KubeDind.Logging;

namespace KubeDind.Diagnostics;

/// <summary>A workload whose rollout failed, the live selector of its pods, what the wait last saw and what failed it fast.</summary>
public sealed record FailingWorkload(string Name, string Kind, string Namespace, V1LabelSelector? Selector, string Observation, string? KnownCause = null);

/// <summary>A diagnostics folder: where it is, what it holds, and the one-line causes it found (most actionable first).</summary>
public sealed record DiagnosticsBundle(string Directory, IReadOnlyList<string> Files, IReadOnlyList<string> Summary)
{
    /// <summary>The causes behind <see cref="Summary"/>, with how actionable each is, in the same order.</summary>
    public IReadOnlyList<FailureCause> Causes { get; init; } = [];

    /// <summary>The bundle as one page for a browser (<see cref="DiagnosticsReport"/>): <c>&lt;Directory&gt;/report.html</c>, or null when it could not be written.</summary>
    public string? ReportPath { get; init; }
}

/// <summary>
/// Writes what explains a failed deploy into <c>&lt;artifacts&gt;/&lt;cluster&gt;/diagnostics-&lt;time&gt;/</c>:
/// events sorted by time, every pod's phase and container states, the last lines of every container's
/// log (and of the previous instance after a restart), the node's conditions, the cluster's own logs
/// (k3s, inner dockerd) and a summary naming each failing workload's most likely cause, most actionable
/// first. Collecting never throws for a part it cannot read: that part's file says why instead.
/// </summary>
internal sealed class DiagnosticsCollector
{
    private readonly IKubernetes _client;
    private readonly DeployContext _context;
    private readonly int _tailLines;

    public DiagnosticsCollector(IKubernetes client, DeployContext context, int tailLines = 200)
    {
        _client = client;
        _context = context;
        _tailLines = tailLines;
    }

    public async Task<DiagnosticsBundle> CollectAsync(IReadOnlyList<FailingWorkload> failing, CancellationToken cancellationToken)
    {
        var directory = Path.GetFullPath(Path.Combine(_context.ArtifactsDirectory, _context.ClusterName, "diagnostics-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss-fff", CultureInfo.InvariantCulture)));
        PrivateFiles.CreateDirectory(directory);
        var files = new List<string>();

        // Secrets by name and key only; their values (and anything that looks like a credential) never reach a file.
        var secrets = await ListAsync("secrets", async c => (await c.CoreV1.ListSecretForAllNamespacesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Items).ConfigureAwait(false);
        var secretValues = SecretValues(secrets.Items);

        async Task WriteAsync(string relative, string text)
        {
            await PrivateFiles.WriteTextAsync(Path.Combine(directory, relative), Redaction.Redact(text, secretValues), cancellationToken).ConfigureAwait(false);
            files.Add(relative.Replace('\\', '/'));
        }

        await WriteAsync("secrets.txt", FormatSecrets(secrets.Items, secrets.Error)).ConfigureAwait(false);

        var events = await ListAsync("events", async c => (await c.CoreV1.ListEventForAllNamespacesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Items).ConfigureAwait(false);
        var pods = await ListAsync("pods", async c => (await c.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Items).ConfigureAwait(false);
        var nodes = await ListAsync("nodes", async c => (await c.CoreV1.ListNodeAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Items).ConfigureAwait(false);

        await WriteAsync("events.txt", FormatEvents(events.Items, events.Error)).ConfigureAwait(false);
        await WriteAsync("pods.txt", FormatPods(pods.Items, pods.Error)).ConfigureAwait(false);
        await WriteAsync("nodes.txt", FormatNodes(nodes.Items, nodes.Error)).ConfigureAwait(false);

        var lastLines = new Dictionary<(string Pod, string Container, bool Previous), string?>();
        var collectedLogs = new List<CollectedLog>();
        foreach (var pod in pods.Items)
        {
            foreach (var status in PodStates.ContainerStatuses(pod))
            {
                var container = status.Name ?? "?";
                var instances = status.RestartCount > 0 || status.LastState?.Terminated is not null ? new[] { false, true } : [false];
                foreach (var previous in instances)
                {
                    var log = await ReadLogAsync(pod, container, previous, cancellationToken).ConfigureAwait(false);
                    collectedLogs.Add(new CollectedLog(PodStates.Namespace(pod), PodStates.Name(pod), container, previous, log.Text ?? string.Empty) { Error = log.Error });
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

        var causes = new List<FailureCause>();
        foreach (var workload in failing)
        {
            var own = pods.Items.Where(p => PodStates.Namespace(p) == workload.Namespace && BelongsTo(p, workload)).ToList();
            var nsEvents = events.Items.Where(e => (e.Metadata?.NamespaceProperty ?? workload.Namespace) == workload.Namespace).ToList();
            causes.Add(FailureSummary.Explain(workload.Name, own, nsEvents, (pod, container, previous) => lastLines.GetValueOrDefault((pod, container, previous)), workload.Observation, workload.KnownCause) with { Namespace = workload.Namespace });
        }

        if (failing.Count == 0)
        {
            // On demand: explain every pod that is stuck.
            foreach (var pod in pods.Items.Where(p => PodStates.HardFailure(p) is not null || p.Status?.Phase is "Failed" or "Pending"))
            {
                causes.Add(FailureSummary.Explain(PodStates.Name(pod), [pod], events.Items, (p, c, prev) => lastLines.GetValueOrDefault((p, c, prev))) with { Namespace = PodStates.Namespace(pod) });
            }
        }

        // Most actionable first; within a kind, the order the workloads were deployed in.
        causes = causes.Select((c, i) => (c, i)).OrderBy(p => p.c.Kind).ThenBy(p => p.i).Select(p => p.c).ToList();
        var summary = causes.Count == 0 ? ["no failing pods found"] : causes.Select(c => c.Line).ToList();
        await WriteAsync("summary.txt", string.Join('\n', summary) + "\n").ConfigureAwait(false);

        var snapshot = new DiagnosticsSnapshot
        {
            ClusterName = _context.ClusterName,
            Causes = causes,
            Pods = pods.Items,
            Events = events.Items,
            Nodes = nodes.Items,
            Logs = collectedLogs,
            Facts = await ReadFactsAsync(cancellationToken).ConfigureAwait(false),
            Problems = new[] { ("secrets", secrets.Error), ("events", events.Error), ("pods", pods.Error), ("nodes", nodes.Error) }
                .Where(p => p.Error is not null).Select(p => $"could not list {p.Item1}: {p.Error}").ToList(),
            SecretValues = secretValues,
        };
        var reportPath = await WriteReportAsync(directory, snapshot, cancellationToken).ConfigureAwait(false);
        if (reportPath is not null)
        {
            files.Add(DiagnosticsReport.FileName);
        }

        files.Sort(StringComparer.Ordinal);
        _context.Log.Info($"Diagnostics for {_context.ClusterName} written to {directory} ({files.Count} files); report: {reportPath ?? "not written"}");
        return new DiagnosticsBundle(directory, files, summary) { Causes = causes, ReportPath = reportPath };
    }

    /// <summary>The cluster's facts for the report; a cluster that cannot tell them gives a fact saying why, never an exception.</summary>
    private async Task<IReadOnlyList<ClusterFact>> ReadFactsAsync(CancellationToken cancellationToken)
    {
        if (_context.Facts is not { } facts)
        {
            return [];
        }

        try
        {
            return await facts(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return [new ClusterFact("facts", $"could not be read: {ex.Message.Split('\n')[0]}")];
        }
    }

    /// <summary>Writes report.html; the bundle's text files stand without it, so a failure to write it is logged, not thrown.</summary>
    private async Task<string?> WriteReportAsync(string directory, DiagnosticsSnapshot snapshot, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, DiagnosticsReport.FileName);
        try
        {
            await PrivateFiles.WriteTextAsync(path, DiagnosticsReport.Render(snapshot), cancellationToken).ConfigureAwait(false);
            return path;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _context.Log.Warn($"Diagnostics for {_context.ClusterName}: report.html could not be written ({ex.Message}); the text files in {directory} say the same.");
            return null;
        }
    }

    /// <summary>
    /// Every Secret value as stored and as its base64 text, for <see cref="Redaction"/>; except a service account token
    /// Secret's <c>namespace</c>, which is only the name of its namespace: redacted, every namespace name in the bundle
    /// (default, kube-system, the app's) read as &lt;redacted&gt;.
    /// </summary>
    internal static IReadOnlyList<string> SecretValues(IEnumerable<V1Secret> secrets) =>
        secrets.SelectMany(s => (s.Data ?? new Dictionary<string, byte[]>()).Where(d => !(s.Type == "kubernetes.io/service-account-token" && d.Key == "namespace")).Select(d => d.Value))
            .SelectMany(bytes => new[] { Encoding.UTF8.GetString(bytes), Convert.ToBase64String(bytes) })
            .Concat(secrets.SelectMany(s => (s.StringData ?? new Dictionary<string, string>()).Values))
            .ToList();

    internal static string FormatSecrets(IReadOnlyList<V1Secret> secrets, string? error)
    {
        var text = new StringBuilder();
        if (error is not null)
        {
            text.AppendLine(FormattableString.Invariant($"(could not list secrets: {error})"));
        }

        foreach (var secret in secrets.OrderBy(s => s.Metadata?.NamespaceProperty, StringComparer.Ordinal).ThenBy(s => s.Metadata?.Name, StringComparer.Ordinal))
        {
            var keys = (secret.Data?.Keys ?? []).Concat(secret.StringData?.Keys ?? []).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
            text.AppendLine(FormattableString.Invariant($"{secret.Metadata?.NamespaceProperty}/{secret.Metadata?.Name} ({secret.Type}): {string.Join(", ", keys)}"));
        }

        return text.Length == 0 ? "(no secrets)\n" : text.ToString();
    }

    private static bool BelongsTo(V1Pod pod, FailingWorkload workload) =>
        workload.Kind == "Pod" ? PodStates.Name(pod) == workload.Name : PodStates.Matches(workload.Selector, pod);

    private async Task<(IReadOnlyList<T> Items, string? Error)> ListAsync<T>(string what, Func<IKubernetes, Task<IList<T>>> list)
    {
        try
        {
            return ((await _client.CallAsync($"listing {what}", list).ConfigureAwait(false)).ToList(), null);
        }
        catch (KubeDindException ex)
        {
            return ([], ex.Message);
        }
    }

    private async Task<(string? Text, string? Error)> ReadLogAsync(V1Pod pod, string container, bool previous, CancellationToken cancellationToken)
    {
        try
        {
            return (await PodLogs.ReadTextAsync(_client, PodStates.Name(pod), PodStates.Namespace(pod), container, previous, _tailLines, cancellationToken).ConfigureAwait(false), null);
        }
        catch (KubeDindException ex)
        {
            return (null, ex.Message);
        }
    }

    internal static DateTimeOffset EventTime(Corev1Event e)
    {
        var time = e.LastTimestamp ?? e.EventTime ?? e.FirstTimestamp ?? e.Metadata?.CreationTimestamp;
        return time is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : DateTimeOffset.MinValue;
    }

    internal static string FormatEvents(IReadOnlyList<Corev1Event> events, string? error)
    {
        var text = new StringBuilder();
        if (error is not null)
        {
            text.AppendLine(FormattableString.Invariant($"(could not list events: {error})"));
        }

        foreach (var e in events.OrderBy(EventTime))
        {
            var involved = e.InvolvedObject;
            var count = e.Count ?? 0;
            text.AppendLine(FormattableString.Invariant($"{EventTime(e):yyyy-MM-ddTHH:mm:ssZ} {e.Type,-8} {e.Reason,-24} {involved?.Kind}/{involved?.NamespaceProperty ?? e.Metadata?.NamespaceProperty}/{involved?.Name}{(count > 1 ? $" (x{count})" : string.Empty)}: {e.Message}"));
        }

        return text.Length == 0 ? "(no events)\n" : text.ToString();
    }

    internal static string FormatPods(IReadOnlyList<V1Pod> pods, string? error)
    {
        var text = new StringBuilder();
        if (error is not null)
        {
            text.AppendLine(FormattableString.Invariant($"(could not list pods: {error})"));
        }

        foreach (var pod in pods)
        {
            text.AppendLine(FormattableString.Invariant($"{PodStates.Namespace(pod)}/{PodStates.Name(pod)}: {pod.Status?.Phase ?? "?"}{(pod.Status?.Reason is { } r ? $" ({r})" : string.Empty)} on {pod.Spec?.NodeName ?? "no node"}"));
            foreach (var condition in (pod.Status?.Conditions ?? []).Where(c => c.Status != "True"))
            {
                text.AppendLine($"  condition {condition.Type}={condition.Status} {condition.Reason} {condition.Message}".TrimEnd());
            }

            foreach (var status in PodStates.ContainerStatuses(pod))
            {
                text.AppendLine(FormattableString.Invariant($"  container {status.Name} image {status.Image} ready={status.Ready} restarts={status.RestartCount}"));
                text.AppendLine(FormattableString.Invariant($"    state: {DescribeState(status.State)}"));
                if (status.LastState is { } last && (last.Waiting ?? (object?)last.Terminated ?? last.Running) is not null)
                {
                    text.AppendLine(FormattableString.Invariant($"    last state: {DescribeState(last)}"));
                }
            }
        }

        return text.Length == 0 ? "(no pods)\n" : text.ToString();
    }

    internal static string FormatNodes(IReadOnlyList<V1Node> nodes, string? error)
    {
        var text = new StringBuilder();
        if (error is not null)
        {
            text.AppendLine(FormattableString.Invariant($"(could not list nodes: {error})"));
        }

        foreach (var node in nodes)
        {
            text.AppendLine(FormattableString.Invariant($"{node.Metadata?.Name}:"));
            foreach (var condition in node.Status?.Conditions ?? [])
            {
                text.AppendLine($"  {condition.Type}={condition.Status} {condition.Reason} {condition.Message}".TrimEnd());
            }
        }

        return text.Length == 0 ? "(no nodes)\n" : text.ToString();
    }

    private static string DescribeState(V1ContainerState? state) => state switch
    {
        { Waiting: { } w } => $"waiting {w.Reason} {w.Message}".TrimEnd(),
        { Terminated: { } t } => $"terminated {t.Reason} exit code {t.ExitCode} {t.Message}".TrimEnd(),
        { Running: { } r } => FormattableString.Invariant($"running since {r.StartedAt:yyyy-MM-ddTHH:mm:ssZ}"),
        _ => "unknown",
    };

    private static string SafeFileName(string name) =>
        string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
}
