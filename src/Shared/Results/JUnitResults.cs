using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using KubeDind.Cluster;
using KubeDind.Diagnostics;

namespace KubeDind.Results;

/// <summary>
/// A cluster's steps as JUnit XML (<c>kubedind-results.xml</c>), the format CI test tabs read (GitLab
/// <c>artifacts:reports:junit</c>, Azure <c>PublishTestResults</c>, Jenkins): one test suite per cluster, one test case
/// per step, with its time, and a failure element carrying the one-line cause and the diagnostics report's path.
/// </summary>
public static class JUnitResults
{
    public const string FileName = "kubedind-results.xml";

    /// <summary>
    /// Where a cluster's results go: beside its kubeconfig (<c>&lt;artifacts&gt;/&lt;name&gt;/kubedind-results.xml</c>); in a
    /// kubeconfig directory several clusters share, <c>&lt;name&gt;.kubedind-results.xml</c>.
    /// </summary>
    public static string PathFor(string clusterName, ClusterSettings settings, string? kubeconfigPath)
    {
        ArgumentNullException.ThrowIfNull(settings);

        // Without a kubeconfig (compose mode, a failed start): where it would have gone, without its temp-directory fallback.
        return PathFor(clusterName, kubeconfigPath ?? (settings.KubeconfigDirectory is { } directory
            ? Path.Combine(Path.GetFullPath(directory), $"{clusterName}.kubeconfig.yaml")
            : Path.Combine(Path.GetFullPath(settings.ArtifactsDirectory), clusterName, "kubeconfig.yaml")));
    }

    /// <summary>The results beside <paramref name="kubeconfigPath"/>.</summary>
    public static string PathFor(string clusterName, string kubeconfigPath)
    {
        ArgumentNullException.ThrowIfNull(kubeconfigPath);
        var directory = Path.GetDirectoryName(Path.GetFullPath(kubeconfigPath))!;
        return Path.Combine(directory, Path.GetFileName(kubeconfigPath) == "kubeconfig.yaml" ? FileName : $"{clusterName}.{FileName}");
    }

    public static XDocument Build(string clusterName, IReadOnlyList<StepResult> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        var suiteName = $"KubeDind.{clusterName}";
        var failures = steps.Count(s => s.Failed);
        var time = Seconds(steps.Aggregate(TimeSpan.Zero, (sum, s) => sum + s.Time));
        var started = steps.Count > 0 ? steps.Min(s => s.Started) : DateTimeOffset.UtcNow;
        var suite = new XElement(
            "testsuite",
            new XAttribute("name", suiteName),
            new XAttribute("tests", steps.Count),
            new XAttribute("failures", failures),
            new XAttribute("errors", 0),
            new XAttribute("skipped", 0),
            new XAttribute("time", time),
            new XAttribute("timestamp", started.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture)),
            steps.Select(step => TestCase(suiteName, step)));
        return new XDocument(
            new XDeclaration("1.0", "utf-8", null),
            new XElement("testsuites", new XAttribute("name", "KubeDind"), new XAttribute("tests", steps.Count), new XAttribute("failures", failures), new XAttribute("errors", 0), new XAttribute("time", time), suite));
    }

    /// <summary>Writes the file whole (through a temporary file), so a CI reading it never sees half of it.</summary>
    public static async Task WriteAsync(string path, string clusterName, IReadOnlyList<StepResult> steps, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temporary = path + ".tmp";
        var stream = File.Create(temporary);
        await using (stream.ConfigureAwait(false))
        {
            await Build(clusterName, steps).SaveAsync(stream, SaveOptions.None, cancellationToken).ConfigureAwait(false);
        }

        File.Move(temporary, path, overwrite: true);
    }

    private static XElement TestCase(string suiteName, StepResult step)
    {
        var testCase = new XElement("testcase", new XAttribute("name", Text(step.Name)), new XAttribute("classname", suiteName), new XAttribute("time", Seconds(step.Time)));
        if (step.Failure is { } failure)
        {
            var body = new StringBuilder(step.Details ?? failure);
            if (step.ReportPath is { } report)
            {
                body.Append("\nreport: ").Append(report);
            }

            testCase.Add(new XElement("failure", new XAttribute("message", Text(failure)), new XAttribute("type", step.Step), Text(body.ToString())));
        }

        if (step.ReportPath is { } path)
        {
            // GitLab and Jenkins show system-out beside the case; the path there opens the page from the job's artifacts.
            testCase.Add(new XElement("system-out", $"report: {path}"));
        }

        return testCase;
    }

    private static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>Redacted like the diagnostics, and without the characters XML 1.0 cannot carry (terminal escapes in a log line).</summary>
    private static string Text(string value) => new(Redaction.Redact(value).Where(XmlConvert.IsXmlChar).ToArray());
}
