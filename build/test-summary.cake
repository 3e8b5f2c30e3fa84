// Reads the TRX files dotnet test wrote and totals them, so the build can end on one line:
// "N passed, N failed, N skipped".
using System.Xml.Linq;

var SkippedProjects = new List<(string Name, string Reason)>();

public sealed class TestTotals
{
    public int Passed { get; set; }
    public int Failed { get; set; }
    public int Skipped { get; set; }
    public List<string> SkippedReasons { get; } = new List<string>();
    public List<string> FailedReasons { get; } = new List<string>();
    public string Line => $"{Passed} passed, {Failed} failed, {Skipped} skipped";

    // Failures come last so the tail of a CI log, which is often all that is kept, names them.
    public string Describe() =>
        Line
        + (SkippedReasons.Count == 0 ? "" : "\nskipped:\n  " + string.Join("\n  ", SkippedReasons))
        + (FailedReasons.Count == 0 ? "" : "\nfailed:\n  " + string.Join("\n  ", FailedReasons));
}

public static class TestSummary
{
    public static TestTotals Read(string directory)
    {
        var totals = new TestTotals();
        foreach (var file in System.IO.Directory.EnumerateFiles(directory, "*.trx", System.IO.SearchOption.AllDirectories))
        {
            var doc = XDocument.Load(file);
            XNamespace ns = doc.Root.Name.Namespace;
            foreach (var result in doc.Descendants(ns + "UnitTestResult"))
            {
                var outcome = (string)result.Attribute("outcome");
                switch (outcome)
                {
                    case "Passed": totals.Passed++; break;
                    case "NotExecuted":
                        totals.Skipped++;
                        var reason = result.Descendants(ns + "Message").FirstOrDefault()?.Value
                            ?? result.Descendants(ns + "StdOut").FirstOrDefault()?.Value ?? "no reason given";
                        totals.SkippedReasons.Add($"{(string)result.Attribute("testName")}: {reason.Trim()}");
                        break;
                    default:
                        totals.Failed++;
                        var message = result.Descendants(ns + "Message").FirstOrDefault()?.Value ?? outcome;
                        var firstLines = string.Join(" | ", message.Trim().Split('\n').Take(3).Select(l => l.Trim()));
                        totals.FailedReasons.Add($"{(string)result.Attribute("testName")}: {firstLines}");
                        break;
                }
            }
        }
        return totals;
    }
}
