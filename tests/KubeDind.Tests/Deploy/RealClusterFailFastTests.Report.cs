using System.Xml.Linq;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Results;
using KubeDind.Tests.Reports;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// What CI shows a person after a real failed deploy on the shared k3s: report.html read by headless chromium (both
/// causes and the timeline in its DOM, a screenshot kept in artifacts/test-results/) and the run's JUnit results.
/// </summary>
public sealed partial class RealClusterFailFastTests
{
    [Fact]
    public async Task A_failed_deploy_s_report_shows_both_causes_and_the_timeline_in_chromium_and_its_junit_names_them()
    {
        SkipWithoutK3s();
        var ns = Ns("report");

        // Never ready, so the rollout cannot count the crasher available in the moment before its first exit.

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, Workload("crasher", "[sh, -c, 'echo connecting to the database; echo boom: no DATABASE_URL; exit 3']", null, TestManifests.NeverReady), TestManifests.Deployment("ghost", "localhost:5000/never-pushed:1")),
            Ct));

        var bundle = ex.Diagnostics!;
        Assert.Equal(2, bundle.Summary.Count);
        Assert.Equal(Path.Combine(bundle.Directory, DiagnosticsReport.FileName), bundle.ReportPath);
        Assert.Contains(DiagnosticsReport.FileName, bundle.Files);
        var dom = await HeadlessChromium.DumpDomAsync(bundle.ReportPath!, Ct);
        var screenshot = Path.Combine(HeadlessChromium.ArtifactsDirectory, "report-failed-deploy.png");
        await HeadlessChromium.ScreenshotAsync(bundle.ReportPath!, screenshot, Ct);
        File.Copy(bundle.ReportPath!, Path.Combine(HeadlessChromium.ArtifactsDirectory, "report-failed-deploy.html"), overwrite: true);

        ReportBrowserTests.AssertShows(dom, bundle.Summary);
        Assert.Contains("data-reason=\"BackOff\"", dom, StringComparison.Ordinal);
        Assert.Contains("<mark>boom: no DATABASE_URL</mark>", dom, StringComparison.Ordinal);
        Assert.Contains(Cluster.KubernetesVersion!, dom, StringComparison.Ordinal);

        var results = XDocument.Load(Cluster.ResultsPath);
        var cases = results.Descendants("testcase").ToList();
        Assert.Contains(cases, c => (string?)c.Attribute("name") == "StartCluster" && c.Element("failure") is null);
        var ghost = Assert.Single(cases, c => (string?)c.Attribute("name") == $"Rollout Deployment {ns}/ghost");
        Assert.Equal(bundle.Summary[0], (string?)ghost.Element("failure")?.Attribute("message"));
        Assert.Contains("report: " + bundle.ReportPath, ghost.Element("failure")!.Value, StringComparison.Ordinal);
        Assert.Equal(JUnitResults.FileName, Path.GetFileName(Cluster.ResultsPath));
        _output.WriteLine($"report {bundle.ReportPath}\nscreenshot {screenshot}\nresults {Cluster.ResultsPath}");
    }

    [Fact]
    public async Task A_successful_deploy_s_report_collected_on_demand_renders_in_chromium()
    {
        SkipWithoutK3s();
        var ns = Ns("healthy");
        await Cluster.DeployAsync(Settings(ns, Workload("steady", "[sleep, '3600']")), Ct);

        var bundle = await Cluster.CollectDiagnosticsAsync(Ct);

        var dom = await HeadlessChromium.DumpDomAsync(bundle.ReportPath!, Ct);
        await HeadlessChromium.ScreenshotAsync(bundle.ReportPath!, Path.Combine(HeadlessChromium.ArtifactsDirectory, "report-on-demand.png"), Ct);
        Assert.Contains("<h2>Causes</h2>", dom, StringComparison.Ordinal);
        Assert.Contains($"<b>Deployment {ns}/steady</b>", dom, StringComparison.Ordinal);
        Assert.Contains("<svg class=\"timeline\"", dom, StringComparison.Ordinal);
        Assert.Contains($"{ns}/steady-", dom, StringComparison.Ordinal);
        var results = XDocument.Load(Cluster.ResultsPath);
        Assert.Contains(results.Descendants("testcase"), c => (string?)c.Attribute("name") == $"Rollout Deployment {ns}/steady" && c.Element("failure") is null);
    }
}
