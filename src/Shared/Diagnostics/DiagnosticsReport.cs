using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using k8s.Models;
using KubeDind.Deploy;

namespace KubeDind.Diagnostics;

/// <summary>
/// The diagnostics bundle as one self-contained HTML page (<c>report.html</c>) for a person opening CI artifacts in a
/// browser: the one-line causes (most actionable first) at the top, then each workload with its pods, container states,
/// restarts and the last lines of each log (the lines that explain the failure marked, older lines folded), a drawn
/// timeline of the pod events, the events themselves and the cluster's facts. Inline CSS and SVG only: no script, font
/// or request of any kind. Every text from the cluster is redacted as in the rest of the bundle, then HTML-encoded.
/// </summary>
public static partial class DiagnosticsReport
{
    public const string FileName = "report.html";

    /// <summary>The last lines of each log shown open; older ones are folded.</summary>
    public const int OpenLogLines = 40;

    /// <summary>Events shown open in the table; older ones are folded.</summary>
    public const int OpenEvents = 60;

    public static string Render(DiagnosticsSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var secrets = snapshot.SecretValues;
        string T(string? value) => WebUtility.HtmlEncode(Clean(Redaction.Redact(value ?? string.Empty, secrets)));
        string TimelineText(string value) => T(value);

        var html = new StringBuilder(64 * 1024);
        var failed = snapshot.Causes.Count > 0;
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
        html.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        html.Append(CultureInfo.InvariantCulture, $"<title>KubeDind {(failed ? "failure" : "diagnostics")}: {T(snapshot.ClusterName)}</title>\n");
        html.Append("<style>").Append(Style).Append("</style>\n</head><body>\n");
        html.Append(CultureInfo.InvariantCulture, $"<h1>{(failed ? "Deploy failed" : "Diagnostics")} — cluster {T(snapshot.ClusterName)}</h1>\n");
        html.Append(CultureInfo.InvariantCulture, $"<p class=\"meta\">Collected {snapshot.Taken.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC by KubeDind. Secret values are redacted.</p>\n");

        html.Append("<nav><a href=\"#causes\">Causes</a> · <a href=\"#workloads\">Workloads</a> · <a href=\"#timeline\">Timeline</a> · <a href=\"#facts\">Cluster</a></nav>\n");
        RenderCauses(html, snapshot, T);
        RenderWorkloads(html, snapshot, T);

        html.Append("<section id=\"timeline\"><h2>Timeline</h2>\n");
        ReportTimeline.Render(html, snapshot.Events, TimelineText);
        RenderEvents(html, snapshot.Events, T);
        html.Append("</section>\n");

        RenderFacts(html, snapshot, T);
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static void RenderCauses(StringBuilder html, DiagnosticsSnapshot snapshot, Func<string?, string> t)
    {
        html.Append("<section id=\"causes\"><h2>Causes</h2>\n");
        if (snapshot.Causes.Count == 0)
        {
            html.Append("<p class=\"ok\">No failing pods found.</p>\n");
        }
        else
        {
            html.Append("<ol class=\"causes\">\n");
            foreach (var cause in snapshot.Causes)
            {
                html.Append(CultureInfo.InvariantCulture, $"<li class=\"cause {cause.Kind.ToString().ToLowerInvariant()}\"><span class=\"kind\">{KindLabel(cause.Kind)}</span> {t(cause.Line)}</li>\n");
            }

            html.Append("</ol>\n");
        }

        foreach (var problem in snapshot.Problems)
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"problem\">{t(problem)}</p>\n");
        }

        html.Append("</section>\n");
    }

    private static void RenderWorkloads(StringBuilder html, DiagnosticsSnapshot snapshot, Func<string?, string> t)
    {
        html.Append("<section id=\"workloads\"><h2>Workloads</h2>\n");
        var logs = snapshot.Logs.ToLookup(l => (l.Namespace, l.Pod, l.Container));
        var groups = snapshot.Pods.GroupBy(WorkloadOf)
            .Select(g => (Workload: g.Key, Pods: g.ToList(), Failing: IsFailing(g.Key, g.ToList(), snapshot.Causes)))
            .OrderByDescending(g => g.Failing)
            .ThenBy(g => g.Workload.Namespace == "kube-system")
            .ThenBy(g => g.Workload.Namespace, StringComparer.Ordinal)
            .ThenBy(g => g.Workload.Name, StringComparer.Ordinal)
            .ToList();
        if (groups.Count == 0)
        {
            html.Append("<p class=\"none\">No pods.</p>\n");
        }

        foreach (var (workload, pods, failing) in groups)
        {
            var ready = pods.Count(PodStates.IsReady);
            var restarts = pods.Sum(p => PodStates.ContainerStatuses(p).Sum(s => s.RestartCount));
            html.Append(CultureInfo.InvariantCulture, $"<details class=\"workload{(failing ? " failing" : string.Empty)}\"{(failing ? " open" : string.Empty)}>");
            html.Append(CultureInfo.InvariantCulture, $"<summary><b>{t(workload.Kind)} {t(workload.Namespace)}/{t(workload.Name)}</b> — {ready}/{pods.Count} pods ready{(restarts > 0 ? $", {restarts} restarts" : string.Empty)}</summary>\n");
            foreach (var pod in pods.OrderBy(p => PodStates.Name(p), StringComparer.Ordinal))
            {
                RenderPod(html, pod, logs, snapshot.Causes, snapshot.SecretValues, t);
            }

            html.Append("</details>\n");
        }

        html.Append("</section>\n");
    }

    private static void RenderPod(StringBuilder html, V1Pod pod, ILookup<(string, string, string), CollectedLog> logs, IReadOnlyList<FailureCause> causes, IReadOnlyList<string> secrets, Func<string?, string> t)
    {
        var name = PodStates.Name(pod);
        var ns = PodStates.Namespace(pod);
        // A ready pod that never restarted explains nothing: folded, so the failing ones stand out among many.
        var healthy = PodStates.IsReady(pod) && PodStates.ContainerStatuses(pod).All(s => s.RestartCount == 0);
        html.Append(CultureInfo.InvariantCulture, $"<details class=\"pod\"{(healthy ? string.Empty : " open")}><summary><h3>pod {t(name)} <span class=\"phase {t(pod.Status?.Phase?.ToLowerInvariant())}\">{t(pod.Status?.Phase ?? "?")}</span> on {t(pod.Spec?.NodeName ?? "no node")}{(healthy ? " — ready" : string.Empty)}</h3></summary>\n");
        foreach (var condition in (pod.Status?.Conditions ?? []).Where(c => c.Status != "True"))
        {
            html.Append(CultureInfo.InvariantCulture, $"<p class=\"condition\">{t(condition.Type)}={t(condition.Status)} {t(condition.Reason)} {t(condition.Message)}</p>\n");
        }

        var statuses = PodStates.ContainerStatuses(pod).ToList();
        if (statuses.Count > 0)
        {
            html.Append("<table class=\"containers\"><tr><th>container</th><th>image</th><th>ready</th><th>restarts</th><th>state</th><th>last state</th></tr>\n");
            foreach (var status in statuses)
            {
                var bad = status.State?.Waiting is not null || status.State?.Terminated is { ExitCode: not 0 } || status.RestartCount > 0;
                html.Append(CultureInfo.InvariantCulture, $"<tr{(bad ? " class=\"bad\"" : string.Empty)}><td>{t(status.Name)}</td><td>{t(status.Image)}</td><td>{(status.Ready ? "yes" : "no")}</td><td>{status.RestartCount}</td><td>{t(DescribeState(status.State))}</td><td>{t(DescribeState(status.LastState))}</td></tr>\n");
            }

            html.Append("</table>\n");
        }

        foreach (var status in statuses)
        {
            foreach (var log in logs[(ns, name, status.Name ?? "?")].OrderBy(l => !l.Previous))
            {
                RenderLog(html, log, causes, secrets, t);
            }
        }

        html.Append("</details>\n");
    }

    private static void RenderLog(StringBuilder html, CollectedLog log, IReadOnlyList<FailureCause> causes, IReadOnlyList<string> secrets, Func<string?, string> t)
    {
        if (log.Error is { } error)
        {
            html.Append(CultureInfo.InvariantCulture, $"<div class=\"log\"><h4>log of {t(log.Container)}{(log.Previous ? " (previous instance)" : string.Empty)}</h4><p class=\"none\">not readable: {t(error)}</p></div>\n");
            return;
        }

        // Redacted once as a whole, as the bundle's log file is, then only encoded line by line.
        var lines = Redaction.Redact(log.Text, secrets).Split('\n');
        var count = lines.Length > 0 && lines[^1].Length == 0 ? lines.Length - 1 : lines.Length;
        var body = new StringBuilder();
        var folded = Math.Max(0, count - OpenLogLines);
        html.Append(CultureInfo.InvariantCulture, $"<div class=\"log\"><h4>log of {t(log.Container)}{(log.Previous ? " (previous instance)" : string.Empty)} — last {count} lines</h4>\n");
        if (folded > 0)
        {
            body.Append(CultureInfo.InvariantCulture, $"<details class=\"older\"><summary>{folded} older lines</summary><pre>");
        }
        else
        {
            body.Append("<pre>");
        }

        for (var i = 0; i < count; i++)
        {
            if (i == folded && folded > 0)
            {
                body.Append("</pre></details><pre>");
            }

            var line = lines[i].TrimEnd('\r');
            var encoded = WebUtility.HtmlEncode(Clean(line));
            body.Append(Explains(line, causes) ? $"<mark>{encoded}</mark>\n" : encoded + "\n");
        }

        html.Append(body).Append("</pre></div>\n");
    }

    private static void RenderEvents(StringBuilder html, IReadOnlyList<Corev1Event> events, Func<string?, string> t)
    {
        var ordered = events.OrderBy(DiagnosticsCollector.EventTime).ToList();
        html.Append(CultureInfo.InvariantCulture, $"<h3>Events ({ordered.Count})</h3>\n");
        var folded = Math.Max(0, ordered.Count - OpenEvents);
        if (folded > 0)
        {
            html.Append(CultureInfo.InvariantCulture, $"<details class=\"older\"><summary>{folded} older events</summary>");
            RenderEventTable(html, ordered.Take(folded), t);
            html.Append("</details>\n");
        }

        RenderEventTable(html, ordered.Skip(folded), t);
    }

    private static void RenderEventTable(StringBuilder html, IEnumerable<Corev1Event> events, Func<string?, string> t)
    {
        html.Append("<table class=\"events\"><tr><th>time (UTC)</th><th>type</th><th>reason</th><th>object</th><th>message</th></tr>\n");
        foreach (var e in events)
        {
            var involved = e.InvolvedObject;
            var count = e.Count ?? 0;
            html.Append(CultureInfo.InvariantCulture, $"<tr{(e.Type == "Warning" ? " class=\"bad\"" : string.Empty)}><td>{DiagnosticsCollector.EventTime(e):HH:mm:ss}</td><td>{t(e.Type)}</td><td>{t(e.Reason)}</td><td>{t(involved?.Kind)} {t(involved?.NamespaceProperty ?? e.Metadata?.NamespaceProperty)}/{t(involved?.Name)}{(count > 1 ? $" (x{count})" : string.Empty)}</td><td>{t(e.Message)}</td></tr>\n");
        }

        html.Append("</table>\n");
    }

    private static void RenderFacts(StringBuilder html, DiagnosticsSnapshot snapshot, Func<string?, string> t)
    {
        html.Append("<section id=\"facts\"><h2>Cluster</h2>\n<table class=\"facts\">\n");
        foreach (var node in snapshot.Nodes)
        {
            var info = node.Status?.NodeInfo;
            var conditions = string.Join(", ", (node.Status?.Conditions ?? []).Select(c => $"{c.Type}={c.Status}"));
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>node {t(node.Metadata?.Name)}</th><td>{t(info?.KubeletVersion)} ({t(info?.ContainerRuntimeVersion)}, {t(info?.OsImage)}); {t(conditions)}</td></tr>\n");
        }

        foreach (var fact in snapshot.Facts)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>{t(fact.Name)}</th><td>{t(fact.Value)}</td></tr>\n");
        }

        if (snapshot.Nodes.Count == 0 && snapshot.Facts.Count == 0)
        {
            html.Append("<tr><td>(nothing known)</td></tr>\n");
        }

        html.Append("</table></section>\n");
    }

    /// <summary>The workload a pod belongs to: its Deployment (through the ReplicaSet), Job, StatefulSet or DaemonSet; a bare pod is its own.</summary>
    internal static (string Namespace, string Kind, string Name) WorkloadOf(V1Pod pod)
    {
        var ns = PodStates.Namespace(pod);
        var owner = pod.Metadata?.OwnerReferences?.FirstOrDefault(o => o.Controller == true) ?? pod.Metadata?.OwnerReferences?.FirstOrDefault();
        if (owner is null)
        {
            return (ns, "Pod", PodStates.Name(pod));
        }

        if (owner.Kind == "ReplicaSet" && pod.Metadata?.Labels?.TryGetValue("pod-template-hash", out var hash) == true && owner.Name.EndsWith("-" + hash, StringComparison.Ordinal))
        {
            return (ns, "Deployment", owner.Name[..^(hash.Length + 1)]);
        }

        return (ns, owner.Kind, owner.Name);
    }

    private static bool IsFailing((string Namespace, string Kind, string Name) workload, IReadOnlyList<V1Pod> pods, IReadOnlyList<FailureCause> causes) =>
        causes.Any(c => c.Workload is { } name && (c.Namespace is null || c.Namespace == workload.Namespace) && (name == workload.Name || pods.Any(p => PodStates.Name(p) == name)))
        || pods.Any(p => PodStates.HardFailure(p) is not null || p.Status?.Phase is "Failed");

    /// <summary>A log line that explains the failure: quoted by a cause, or saying error, fatal, panic, exception, refused, denied or not found.</summary>
    private static bool Explains(string line, IReadOnlyList<FailureCause> causes)
    {
        var trimmed = line.Trim();
        if (trimmed.Length == 0)
        {
            return false;
        }

        return (trimmed.Length >= 4 && causes.Any(c => c.Line.Contains(trimmed, StringComparison.Ordinal))) || FailureWords().IsMatch(trimmed);
    }

    [GeneratedRegex(@"\b(error|err|fatal|panic|exception|fail(ed|ure)?|refused|denied|not found|no such|traceback|segmentation fault|killed)\b", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex FailureWords();

    /// <summary>Terminal colour codes and other control characters, which mean nothing in a page and may break its text.</summary>
    [GeneratedRegex(@"\x1B\[[0-9;?]*[ -/]*[@-~]|[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]", RegexOptions.CultureInvariant)]
    private static partial Regex ControlCharacters();

    private static string Clean(string text) => ControlCharacters().Replace(text, string.Empty);

    private static string KindLabel(FailureKind kind) => kind switch
    {
        FailureKind.Input => "input",
        FailureKind.Crash => "crash",
        FailureKind.Scheduling => "scheduling",
        _ => "other",
    };

    private static string DescribeState(V1ContainerState? state) => state switch
    {
        { Waiting: { } w } => $"waiting {w.Reason} {w.Message}".TrimEnd(),
        { Terminated: { } term } => $"terminated {term.Reason} exit code {term.ExitCode} {term.Message}".TrimEnd(),
        { Running: { } r } => FormattableString.Invariant($"running since {r.StartedAt:HH:mm:ss}"),
        _ => string.Empty,
    };

    private const string Style = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.2em 2em;color:#1d1d1f;max-width:1400px}
        h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}h3{font-size:1em;margin:.8em 0 .3em}h4{font-size:.9em;margin:.6em 0 .2em;color:#444}
        .meta{color:#666}.ok{color:#2e7d32}.none{color:#666}.problem{color:#b00020}
        ol.causes{padding-left:1.4em}li.cause{margin:.35em 0;font-size:1.05em}
        .kind{display:inline-block;min-width:6.5em;font-size:.8em;text-transform:uppercase;letter-spacing:.04em;padding:1px 6px;border-radius:3px;color:#fff;background:#777;text-align:center}
        .input .kind{background:#c62828}.crash .kind{background:#e65100}.scheduling .kind{background:#6a1b9a}
        details.workload{border:1px solid #ddd;border-radius:4px;margin:.5em 0;padding:.3em .8em}details.workload.failing{border-color:#e57373}
        summary{cursor:pointer}details.pod{margin-left:.6em}details.pod>summary>h3{display:inline}nav{margin:.4em 0}nav a{color:#1a4fa0}.condition{color:#8a4b00;margin:.1em 0}
        table{border-collapse:collapse;margin:.3em 0;font-size:.92em}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}th{background:#f4f4f4}
        tr.bad td{background:#fff3f3}
        pre{background:#f7f7f7;border:1px solid #e2e2e2;padding:.4em .6em;margin:0;overflow-x:auto;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
        mark{background:#ffe08a;display:inline-block;width:100%}
        details.older>summary{color:#555;font-size:.9em}
        svg.timeline{max-width:100%;height:auto;border:1px solid #ddd;background:#fff;font-family:system-ui,sans-serif}
        .legend span{margin-right:1em;font-size:.9em}.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
        """;
}
