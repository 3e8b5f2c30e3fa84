using System.Xml;
using System.Xml.Linq;
using System.Xml.Schema;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Results;

namespace KubeDind.Tests.Reports;

/// <summary>The JUnit results a run writes, checked against the Jenkins-shaped JUnit schema CI systems read (junit.xsd beside this file).</summary>
public sealed class JUnitResultsTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 12, 4, 10, 0, 0, TimeSpan.Zero);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kdt-junit-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_failed_run_is_one_suite_with_a_case_per_step_and_workload_and_is_valid_junit()
    {
        var report = Path.Combine(_directory, "kdt-ci", "diagnostics-1", "report.html");
        var bundle = new DiagnosticsBundle(Path.GetDirectoryName(report)!, ["report.html"], ["ghost: image localhost:5000/never-pushed:1 not found — was it pushed?"])
        {
            Causes = [new FailureCause("ghost: image localhost:5000/never-pushed:1 not found — was it pushed?", FailureKind.Input) { Workload = "ghost", Namespace = "app" }],
            ReportPath = report,
        };
        var result = new DeployResult(
            [
                new AppliedObject("v1", "Namespace", "app", null, true, null, "created"),
                new AppliedObject("apps/v1", "Deployment", "web", "app", true, RolloutState.Ready, "Ready: 1/1") { RolloutTime = TimeSpan.FromSeconds(7.5) },
                new AppliedObject("apps/v1", "Deployment", "ghost", "app", true, RolloutState.Failed, "Failed: ImagePullBackOff") { RolloutTime = TimeSpan.FromSeconds(9) },
            ],
            [],
            [],
            TimeSpan.FromSeconds(12),
            bundle);
        var error = new DeployFailedException("Deploy to kdt-ci: Deployment app/ghost failed: ghost: image localhost:5000/never-pushed:1 not found — was it pushed?; diagnostics in " + bundle.Directory, "details\u001b[31m with a terminal escape", result);
        var steps = new List<StepResult>
        {
            new("StartMirror", "StartMirror", Start, TimeSpan.FromSeconds(1.25)),
            new("StartCluster", "StartCluster", Start.AddSeconds(2), TimeSpan.FromSeconds(20)),
            new("PushImage", "PushImage my-app:dev", Start.AddSeconds(23), TimeSpan.FromSeconds(3)),
        };
        steps.AddRange(RunResults.FromDeploy(Start.AddSeconds(27), TimeSpan.FromSeconds(12), result, error));
        var path = JUnitResults.PathFor("kdt-ci", Path.Combine(_directory, "kdt-ci", "kubeconfig.yaml"));

        await JUnitResults.WriteAsync(path, "kdt-ci", steps, TestContext.Current.CancellationToken);

        Assert.Equal(Path.Combine(_directory, "kdt-ci", "kubedind-results.xml"), path);
        var document = Validate(path);
        var suite = Assert.Single(document.Root!.Elements("testsuite"));
        Assert.Equal("KubeDind.kdt-ci", (string?)suite.Attribute("name"));
        Assert.Equal(["StartMirror", "StartCluster", "PushImage my-app:dev", "Deploy", "Rollout Deployment app/web", "Rollout Deployment app/ghost"], suite.Elements("testcase").Select(c => (string?)c.Attribute("name")));
        Assert.Equal("2", (string?)suite.Attribute("failures"));
        Assert.Equal("7.500", (string?)suite.Elements("testcase").Single(c => (string?)c.Attribute("name") == "Rollout Deployment app/web").Attribute("time"));
        var ghost = suite.Elements("testcase").Single(c => (string?)c.Attribute("name") == "Rollout Deployment app/ghost").Element("failure")!;
        Assert.Equal("ghost: image localhost:5000/never-pushed:1 not found — was it pushed?", (string?)ghost.Attribute("message"));
        Assert.Contains("report: " + report, ghost.Value, StringComparison.Ordinal);
        var deploy = suite.Elements("testcase").Single(c => (string?)c.Attribute("name") == "Deploy").Element("failure")!;
        Assert.StartsWith("Deploy to kdt-ci: Deployment app/ghost failed", (string?)deploy.Attribute("message"), StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', deploy.Value);
    }

    [Fact]
    public void A_kubeconfig_directory_shared_by_clusters_gets_one_results_file_per_cluster()
    {
        Assert.Equal(Path.Combine(_directory, "a.kubedind-results.xml"), JUnitResults.PathFor("a", Path.Combine(_directory, "a.kubeconfig.yaml")));
    }

    [Fact]
    public void The_schema_refuses_what_ci_readers_would_not_understand()
    {
        var bad = new XDocument(new XElement("testsuites", new XElement("testsuite", new XAttribute("name", "x"), new XAttribute("tests", 1), new XElement("testcase", new XAttribute("name", "a"), new XAttribute("time", "1s")))));
        Assert.Throws<XmlSchemaValidationException>(() => bad.Validate(Schema(), (_, e) => throw e.Exception));
    }

    private static XDocument Validate(string path)
    {
        var settings = new XmlReaderSettings { ValidationType = ValidationType.Schema, Schemas = Schema() };
        settings.ValidationEventHandler += (_, e) => throw new XmlSchemaValidationException($"{path} is not valid JUnit: {e.Message}", e.Exception);
        using var reader = XmlReader.Create(path, settings);
        return XDocument.Load(reader);
    }

    private static XmlSchemaSet Schema()
    {
        var schemas = new XmlSchemaSet();
        schemas.Add(null, Path.Combine(AppContext.BaseDirectory, "Reports", "junit.xsd"));
        return schemas;
    }
}
