using System.Text.RegularExpressions;
using System.Xml.Linq;
using k8s.Models;
using KubeDind.Diagnostics;

namespace KubeDind.Tests.Reports;

/// <summary>
/// report.html from a snapshot a test states (the data a collection reads): causes first, workloads with their pods and
/// logs, the drawn timeline, the facts; every untrusted text encoded and redacted; large runs folded. The page as a
/// browser shows it is checked in ReportBrowserTests.
/// </summary>
public sealed partial class DiagnosticsReportTests
{
    private static readonly DateTime T0 = new(2026, 12, 4, 10, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Causes_come_first_most_actionable_first_exactly_as_the_error_says_them()
    {
        var snapshot = Snapshot(
            [new FailureCause("ghost: image localhost:5000/never-pushed:1 not found — was it pushed?", FailureKind.Input) { Workload = "ghost", Namespace = "app" },
             new FailureCause("crasher: container app is crash-looping (exit code 3): last log line: boom: no DATABASE_URL", FailureKind.Crash) { Workload = "crasher", Namespace = "app" }],
            [Pod("app", "crasher-5d8f7-abcde", "crasher", "5d8f7", crash: true), Pod("app", "ghost-77c9b-zzzzz", "ghost", "77c9b", crash: false)],
            [new CollectedLog("app", "crasher-5d8f7-abcde", "app", true, "starting\nboom: no DATABASE_URL\n")]);

        var html = DiagnosticsReport.Render(snapshot);

        var causes = Regex.Matches(html, "<li class=\"cause [a-z]+\"><span class=\"kind\">[a-z]+</span> (.*?)</li>").Select(m => System.Net.WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();
        Assert.Equal(snapshot.Causes.Select(c => c.Line), causes);
        Assert.True(html.IndexOf("id=\"causes\"", StringComparison.Ordinal) < html.IndexOf("id=\"workloads\"", StringComparison.Ordinal));
        Assert.Contains("<b>Deployment app/crasher</b>", html, StringComparison.Ordinal);
        Assert.Contains("<mark>boom: no DATABASE_URL</mark>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<mark>starting</mark>", html, StringComparison.Ordinal);
        Assert.Contains("log of app (previous instance)", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_timeline_draws_each_pod_event_on_a_time_axis()
    {
        var events = new[]
        {
            Event("app", "crasher-5d8f7-abcde", "Normal", "Scheduled", "Successfully assigned app/crasher-5d8f7-abcde to kubedind", 0),
            Event("app", "crasher-5d8f7-abcde", "Normal", "Pulled", "Container image already present", 2),
            Event("app", "crasher-5d8f7-abcde", "Normal", "Started", "Started container app", 3),
            Event("app", "crasher-5d8f7-abcde", "Warning", "BackOff", "Back-off restarting failed container", 5, last: 40, count: 6),
        };

        var html = DiagnosticsReport.Render(Snapshot([], [], [], events));

        var svg = Regex.Match(html, "<svg class=\"timeline\".*?</svg>", RegexOptions.Singleline).Value;
        var drawing = XElement.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(["Scheduled", "Pulled", "Started", "BackOff"], drawing.Descendants(ns + "circle").Select(c => (string?)c.Attribute("data-reason")));
        Assert.Contains(drawing.Descendants(ns + "text"), t => t.Value == "10:00:00");
        Assert.Single(drawing.Descendants(ns + "line"), l => (string?)l.Attribute("class") == "repeat");
        Assert.Contains("app/crasher-5d8f7-abcde", svg, StringComparison.Ordinal);
    }

    [Fact]
    public void Untrusted_text_is_encoded_and_secrets_are_redacted_everywhere()
    {
        const string Secret = "s3cr3t-db-pa55";
        var snapshot = Snapshot(
            [new FailureCause($"web: container app failed (exit code 1): last log line: <script>alert(1)</script> {Secret}", FailureKind.Crash) { Workload = "web", Namespace = "default" }],
            [Pod("default", "web-1a2b3-xxxxx", "web", "1a2b3", crash: true)],
            [new CollectedLog("default", "web-1a2b3-xxxxx", "app", false, $"<img src=x onerror=alert(1)>\nPASSWORD=hunter2\nconnecting with {Secret}\n\u001b[31mred\u001b[0m & done\n")],
            [Event("default", "web-1a2b3-xxxxx", "Warning", "Failed", $"</title><script>x</script> {Secret}", 0)]) with
        { SecretValues = [Secret] };

        var html = DiagnosticsReport.Render(snapshot);

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Secret, html, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", html, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b", html, StringComparison.Ordinal);
        Assert.Contains("&lt;img src=x onerror=alert(1)&gt;", html, StringComparison.Ordinal);
        Assert.Contains("connecting with &lt;redacted&gt;", html, StringComparison.Ordinal);
        Assert.Contains("red &amp; done", html, StringComparison.Ordinal);
    }

    [Fact]
    public void The_page_needs_nothing_from_the_network_and_no_script()
    {
        var html = DiagnosticsReport.Render(Snapshot([], [Pod("default", "web-1a2b3-xxxxx", "web", "1a2b3", crash: false)], [], [Event("default", "web-1a2b3-xxxxx", "Normal", "Scheduled", "assigned", 0)]));

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch("(src|href)=\"https?:", html);
        Assert.Contains("No failing pods found.", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Fifty_pods_and_ten_thousand_log_lines_make_one_page_with_the_older_lines_and_events_folded()
    {
        var pods = Enumerable.Range(0, 50).Select(i => Pod("load", $"worker-{i / 10}-abc12-{i:00000}", $"worker-{i / 10}", "abc12", crash: i % 10 == 0)).ToList();
        var logs = pods.Select((p, i) => new CollectedLog("load", p.Metadata.Name, "app", false, i == 0
            ? string.Concat(Enumerable.Range(1, 10_000).Select(n => $"line {n}: request handled\n")) + "fatal: out of connections\n"
            : "started\n")).ToList();
        var events = pods.SelectMany((p, i) => new[]
        {
            Event("load", p.Metadata.Name, "Normal", "Scheduled", "assigned", i),
            Event("load", p.Metadata.Name, "Normal", "Started", "Started container app", i + 2),
        }).ToList();
        var causes = Enumerable.Range(0, 5).Select(w => new FailureCause($"worker-{w}: container app is crash-looping (exit code 1): last log line: fatal: out of connections", FailureKind.Crash) { Workload = $"worker-{w}", Namespace = "load" }).ToList();

        var html = DiagnosticsReport.Render(Snapshot(causes, pods, logs, events));

        Assert.Contains("<details class=\"older\"><summary>9961 older lines</summary>", html, StringComparison.Ordinal);
        Assert.Contains("<mark>fatal: out of connections</mark>", html, StringComparison.Ordinal);
        var open = html[html.IndexOf("9961 older lines", StringComparison.Ordinal)..];
        open = open[open.IndexOf("</details>", StringComparison.Ordinal)..];
        Assert.Contains("line 9962: request handled", open[..open.IndexOf("</div>", StringComparison.Ordinal)], StringComparison.Ordinal);
        Assert.Contains($"<summary>{100 - DiagnosticsReport.OpenEvents} older events</summary>", html, StringComparison.Ordinal);
        Assert.Equal(50, Regex.Matches(html, "<details class=\"pod\"").Count);
        Assert.Equal(5, Regex.Matches(html, "<details class=\"pod\" open>").Count);
        Assert.Equal(5, Regex.Matches(html, "<details class=\"workload failing\" open>").Count);
        Assert.Equal(50, Regex.Matches(html, "<g class=\"row\">").Count);
    }

    [Fact]
    public void A_bare_pod_a_job_pod_and_a_deployment_pod_are_each_shown_under_their_workload()
    {
        Assert.Equal(("default", "Deployment", "web"), DiagnosticsReport.WorkloadOf(Pod("default", "web-1a2b3-xxxxx", "web", "1a2b3", crash: false)));
        var job = new V1Pod { Metadata = new V1ObjectMeta { Name = "migrate-x", NamespaceProperty = "db", OwnerReferences = [new V1OwnerReference { Kind = "Job", Name = "migrate", Controller = true, ApiVersion = "batch/v1", Uid = "1" }] } };
        Assert.Equal(("db", "Job", "migrate"), DiagnosticsReport.WorkloadOf(job));
        Assert.Equal(("default", "Pod", "solo"), DiagnosticsReport.WorkloadOf(new V1Pod { Metadata = new V1ObjectMeta { Name = "solo" } }));
    }

    internal static DiagnosticsSnapshot Snapshot(IReadOnlyList<FailureCause> causes, IReadOnlyList<V1Pod> pods, IReadOnlyList<CollectedLog> logs, IReadOnlyList<Corev1Event>? events = null) => new()
    {
        ClusterName = "kdt-report",
        Taken = new DateTimeOffset(T0.AddMinutes(2)),
        Causes = causes,
        Pods = pods,
        Logs = logs,
        Events = events ?? [],
        Nodes = [new V1Node { Metadata = new V1ObjectMeta { Name = "kubedind" }, Status = new V1NodeStatus { NodeInfo = new V1NodeSystemInfo { KubeletVersion = "v1.21.2+k3s1", ContainerRuntimeVersion = "containerd://1.6.20", OsImage = "Debian GNU/Linux 12", Architecture = "amd64", BootID = "b", KernelVersion = "6", KubeProxyVersion = "v1.21.2+k3s1", MachineID = "m", OperatingSystem = "linux", SystemUUID = "s" } } }],
        Facts = [new ClusterFact("components", "dns=dnsmasq (KubeDind fallback), storage=local-path (KubeDind fallback)")],
    };

    internal static V1Pod Pod(string ns, string name, string deployment, string hash, bool crash) => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = ns,
            Labels = new Dictionary<string, string> { ["pod-template-hash"] = hash },
            OwnerReferences = [new V1OwnerReference { Kind = "ReplicaSet", Name = $"{deployment}-{hash}", Controller = true, ApiVersion = "apps/v1", Uid = "u" }],
        },
        Spec = new V1PodSpec { NodeName = "kubedind", Containers = [new V1Container { Name = "app", Image = "localhost:5000/app:1" }] },
        Status = new V1PodStatus
        {
            Phase = "Running",
            Conditions = [new V1PodCondition { Type = "Ready", Status = crash ? "False" : "True" }],
            ContainerStatuses =
            [
                new V1ContainerStatus
                {
                    Name = "app", Image = "localhost:5000/app:1", ImageID = string.Empty, Ready = !crash, RestartCount = crash ? 4 : 0,
                    State = crash ? new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CrashLoopBackOff" } } : new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = T0 } },
                    LastState = crash ? new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = 3, Reason = "Error" } } : null,
                },
            ],
        },
    };

    internal static Corev1Event Event(string ns, string pod, string type, string reason, string message, int second, int? last = null, int count = 1) => new()
    {
        Metadata = new V1ObjectMeta { Name = $"{pod}.{reason}.{second}", NamespaceProperty = ns },
        InvolvedObject = new V1ObjectReference { Kind = "Pod", Name = pod, NamespaceProperty = ns },
        Type = type,
        Reason = reason,
        Message = message,
        Count = count,
        FirstTimestamp = T0.AddSeconds(second),
        LastTimestamp = T0.AddSeconds(last ?? second),
    };
}
