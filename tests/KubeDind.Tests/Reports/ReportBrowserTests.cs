using KubeDind.Diagnostics;

namespace KubeDind.Tests.Reports;

/// <summary>
/// report.html as a browser shows it: headless chromium reads the page and its DOM holds the causes and the timeline;
/// the screenshot stays in artifacts/test-results/ for a person to look at. (The report of a real failed deploy on k3s is
/// rendered the same way in RealClusterFailFastTests.)
/// </summary>
public sealed class ReportBrowserTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kdt-browser-" + Guid.NewGuid().ToString("N")[..8]);

    public ReportBrowserTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_report_of_fifty_pods_and_ten_thousand_log_lines_renders_in_chromium_with_its_causes_and_timeline()
    {
        var pods = Enumerable.Range(0, 50).Select(i => DiagnosticsReportTests.Pod("load", $"worker-{i / 10}-abc12-{i:00000}", $"worker-{i / 10}", "abc12", crash: i % 10 == 0)).ToList();
        var logs = pods.Select((p, i) => new CollectedLog("load", p.Metadata.Name, "app", i % 10 == 0, i == 0
            ? string.Concat(Enumerable.Range(1, 10_000).Select(n => $"line {n}: request handled\n")) + "fatal: out of connections\n"
            : "started\n")).ToList();
        var events = pods.SelectMany((p, i) => new[]
        {
            DiagnosticsReportTests.Event("load", p.Metadata.Name, "Normal", "Scheduled", "assigned", i),
            DiagnosticsReportTests.Event("load", p.Metadata.Name, "Normal", "Started", "Started container app", i + 2),
        }).ToList();
        var causes = new[]
        {
            new FailureCause("worker-0: image localhost:5000/worker:2 not found — was it pushed?", FailureKind.Input) { Workload = "worker-0", Namespace = "load" },
            new FailureCause("worker-1: container app is crash-looping (exit code 3): last log line: fatal: out of connections", FailureKind.Crash) { Workload = "worker-1", Namespace = "load" },
        };
        var page = Path.Combine(_directory, DiagnosticsReport.FileName);
        await File.WriteAllTextAsync(page, DiagnosticsReport.Render(DiagnosticsReportTests.Snapshot(causes, pods, logs, events)), TestContext.Current.CancellationToken);

        var dom = await HeadlessChromium.DumpDomAsync(page, TestContext.Current.CancellationToken);
        var screenshot = Path.Combine(HeadlessChromium.ArtifactsDirectory, "report-50-pods.png");
        await HeadlessChromium.ScreenshotAsync(page, screenshot, TestContext.Current.CancellationToken);

        AssertShows(dom, causes.Select(c => c.Line));
        Assert.Contains("9961 older lines", dom, StringComparison.Ordinal);
        TestContext.Current.TestOutputHelper?.WriteLine($"screenshot: {screenshot}");
    }

    /// <summary>Each cause as the error says it, and the drawn timeline with its marks, in the DOM chromium built.</summary>
    internal static void AssertShows(string dom, IEnumerable<string> causes)
    {
        foreach (var cause in causes)
        {
            // As chromium serialises text: only &, < and > escaped.
            Assert.Contains(cause.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal), dom, StringComparison.Ordinal);
        }

        Assert.Contains("<svg class=\"timeline\"", dom, StringComparison.Ordinal);
        Assert.Contains("<circle class=\"event\"", dom, StringComparison.Ordinal);
        Assert.Contains("data-reason=\"Scheduled\"", dom, StringComparison.Ordinal);
    }
}
