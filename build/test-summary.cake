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

    /// <summary>Each test class's wall time (its first test's start to its last test's end), and each SystemTest's.</summary>
    public List<(string Name, TimeSpan Time)> ClassTimes { get; } = new List<(string Name, TimeSpan Time)>();

    public string Line => $"{Passed} passed, {Failed} failed, {Skipped} skipped";

    // Failures come last so the tail of a CI log, which is often all that is kept, names them.
    public string Describe() =>
        Line
        + "\nslowest test classes (first test's start to last test's end):\n  "
        + string.Join("\n  ", ClassTimes.OrderByDescending(c => c.Time).Take(10).Select(c => $"{c.Time.TotalSeconds,7:0.0}s  {c.Name}"))
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
            var classOf = doc.Descendants(ns + "UnitTest").ToDictionary(
                t => (string)t.Attribute("id"),
                t => (string)t.Element(ns + "TestMethod")?.Attribute("className") ?? "?");
            var spans = new Dictionary<string, (DateTimeOffset Start, DateTimeOffset End)>();
            foreach (var result in doc.Descendants(ns + "UnitTestResult"))
            {
                var outcome = (string)result.Attribute("outcome");
                if (DateTimeOffset.TryParse((string)result.Attribute("startTime"), out var start) && DateTimeOffset.TryParse((string)result.Attribute("endTime"), out var end))
                {
                    var name = classOf.TryGetValue((string)result.Attribute("testId") ?? "", out var c) ? c : "?";
                    spans[name] = spans.TryGetValue(name, out var span) ? (start < span.Start ? start : span.Start, end > span.End ? end : span.End) : (start, end);
                }

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
                        // Five lines hold both sides of an xunit comparison ("Expected: …", "Actual: …").
                        var firstLines = string.Join(" | ", message.Trim().Split('\n').Take(5).Select(l => l.Trim()));
                        totals.FailedReasons.Add($"{(string)result.Attribute("testName")}: {firstLines}");
                        break;
                }
            }
            totals.ClassTimes.AddRange(spans.Select(s => (s.Key, s.Value.End - s.Value.Start)));
        }
        return totals;
    }
}
