using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace KubeDind.BuildTool;

/// <summary>One measure against its peer measured in the same run: the medians and their ratio (lower is better).</summary>
internal sealed record BenchRatio(string Measure, string Peer, IReadOnlyList<double> Ours, IReadOnlyList<double> Theirs, string Unit = "s", double? Goal = null)
{
    /// <summary>Whether the ratio is at most its goal (null: the row has none).</summary>
    public bool? MeetsGoal => Goal is { } goal ? Ratio <= goal : null;

    public double OursMedian => BenchResults.Median(Ours);

    public double TheirsMedian => BenchResults.Median(Theirs);

    public double Ratio => OursMedian / TheirsMedian;
}

/// <summary>A figure without a peer (teardown seconds, leftovers, memory), as the median of its samples.</summary>
internal sealed record BenchFigure(string Measure, IReadOnlyList<double> Samples, string Unit, double? Goal = null)
{
    public double Median => BenchResults.Median(Samples);

    /// <summary>Whether the median is at most its goal (null: the figure has none).</summary>
    public bool? MeetsGoal => Goal is { } goal ? Median <= goal : null;
}

/// <summary>A row that could not be measured here, and why.</summary>
internal sealed record BenchSkip(string Measure, string Reason);

/// <summary>What one Bench run found; written as results.md, results.json and ratios.png.</summary>
internal sealed class BenchResults
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public List<BenchRatio> Ratios { get; } = [];

    public List<BenchFigure> Figures { get; } = [];

    public List<BenchSkip> Skipped { get; } = [];

    /// <summary>Start kind ("cold StartCluster", "warm StartCluster") → phase → samples (seconds).</summary>
    public Dictionary<string, Dictionary<string, List<double>>> Timelines { get; } = [];

    public int Runs { get; init; }

    public bool Kubernetes { get; init; }

    public string Note { get; set; } = string.Empty;

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public void AddPhases(string start, IEnumerable<(string Phase, TimeSpan Duration)> phases)
    {
        if (!Timelines.TryGetValue(start, out var timeline))
        {
            Timelines[start] = timeline = [];
        }

        foreach (var (phase, duration) in phases)
        {
            if (!timeline.TryGetValue(phase, out var samples))
            {
                timeline[phase] = samples = [];
            }

            samples.Add(duration.TotalSeconds);
        }
    }

    public async Task WriteAsync(string directory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var machine = $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0:0} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, load average {LoadAverage()}";
        var markdown = Markdown(machine);
        await File.WriteAllTextAsync(Path.Combine(directory, "results.md"), markdown, cancellationToken);
        var json = JsonSerializer.Serialize(
            new
            {
                Date = DateTimeOffset.UtcNow,
                Machine = machine,
                Mode = Kubernetes ? "kubernetes" : "compose",
                Runs,
                Note,
                Ratios = Ratios.Select(r => new { r.Measure, r.Peer, r.Unit, Ours = r.OursMedian, Theirs = r.TheirsMedian, r.Ratio, r.Goal, r.MeetsGoal, OursSamples = r.Ours, TheirSamples = r.Theirs }),
                Figures = Figures.Select(f => new { f.Measure, f.Unit, f.Median, f.Goal, f.MeetsGoal, f.Samples }),
                Skipped,
                Timelines = Timelines.ToDictionary(t => t.Key, t => t.Value.ToDictionary(p => p.Key, p => new { Median = Median(p.Value), Samples = p.Value })),
            },
            Json);
        await File.WriteAllTextAsync(Path.Combine(directory, "results.json"), json, cancellationToken);
        var chart = Path.Combine(directory, "ratios.png");
        BenchChart.Write(chart, Ratios, $"KubeDind / peer, medians of {Runs} runs (lower is better)");
        Console.WriteLine(markdown);
        Console.WriteLine($"bench results written to {Path.Combine(directory, "results.md")}, results.json and ratios.png");
    }

    private string Markdown(string machine)
    {
        static string S(double value) => double.IsNaN(value) ? "n/a" : value.ToString("0.00", CultureInfo.InvariantCulture);
        var md = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"# KubeDind bench, {DateTimeOffset.UtcNow:u}")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {machine}. Each figure is the median of {Runs} runs; each ratio is KubeDind's median over its peer's, measured side by side in this run (lower is better).")
            .AppendLine(CultureInfo.InvariantCulture, $"Mode: {(Kubernetes ? "Kubernetes (k3s from KUBEDIND_K3S_BINARY)" : "compose mode: KUBEDIND_K3S_BINARY is unset, so every Kubernetes row is skipped")}.");
        if (Note.Length > 0)
        {
            md.AppendLine().AppendLine(Note);
        }

        static string Goal(double? goal, bool? met, string unit) => goal is { } g ? $"≤ {S(g)}{unit}: {(met == true ? "met" : "**not met**")}" : string.Empty;
        md.AppendLine().AppendLine("| measure | KubeDind | peer | peer's | ratio | goal |").AppendLine("|---|---:|---|---:|---:|---|");
        foreach (var r in Ratios)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {r.Measure} | {S(r.OursMedian)} {r.Unit} | {r.Peer} | {S(r.TheirsMedian)} {r.Unit} | **{S(r.Ratio)}×** | {Goal(r.Goal, r.MeetsGoal, "×")} |");
        }

        md.AppendLine().AppendLine("| figure | median | unit | samples | goal |").AppendLine("|---|---:|---|---|---|");
        foreach (var f in Figures)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {f.Measure} | {S(f.Median)} | {f.Unit} | {string.Join(", ", f.Samples.Select(S))} | {Goal(f.Goal, f.MeetsGoal, " " + f.Unit)} |");
        }

        if (Skipped.Count > 0)
        {
            md.AppendLine().AppendLine("Not measured:").AppendLine();
            foreach (var s in Skipped)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"- {s.Measure}: {s.Reason}");
            }
        }

        foreach (var (start, phases) in Timelines)
        {
            md.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Where {start} spends its time (median seconds per phase):").AppendLine();
            md.AppendLine("| phase | median s | samples |").AppendLine("|---|---:|---|");
            foreach (var (phase, samples) in phases)
            {
                md.AppendLine(CultureInfo.InvariantCulture, $"| {phase} | {S(Median(samples))} | {string.Join(", ", samples.Select(S))} |");
            }
        }

        return md.ToString();
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
