using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Logging;

namespace KubeDind.Results;

/// <summary>
/// The steps a session ran, each with its time and outcome, kept per cluster (a mirror's start belongs to every
/// cluster of the session), and each cluster's JUnit file (<see cref="JUnitResults"/>) rewritten after every step,
/// so a build that stops at any point leaves the results up to there.
/// </summary>
internal sealed class RunResults
{
    private readonly List<(string? Cluster, StepResult Step)> _steps = [];
    private readonly HashSet<string> _announced = new(StringComparer.Ordinal);
    private readonly IKubeDindLog _log;

    public RunResults(IKubeDindLog log) => _log = log;

    /// <summary>The steps of <paramref name="cluster"/> and of the session as a whole, in the order they started.</summary>
    public IReadOnlyList<StepResult> For(string cluster)
    {
        lock (_steps)
        {
            return _steps.Where(s => s.Cluster is null || s.Cluster == cluster).Select(s => s.Step).OrderBy(s => s.Started).ToList();
        }
    }

    /// <summary>Records a step of the whole session (StartMirror); it shows in every cluster's results written later.</summary>
    public void AddSessionStep(StepResult step)
    {
        lock (_steps)
        {
            _steps.Add((null, step));
        }
    }

    /// <summary>Records steps of <paramref name="cluster"/> and rewrites its results file at <paramref name="path"/>; never throws for the file.</summary>
    public async Task AddAsync(string cluster, string path, IEnumerable<StepResult> steps)
    {
        bool first;
        lock (_steps)
        {
            _steps.AddRange(steps.Select(s => ((string?)cluster, s)));
            first = _announced.Add(path);
        }

        try
        {
            await JUnitResults.WriteAsync(path, cluster, For(cluster), CancellationToken.None).ConfigureAwait(false);
            if (first)
            {
                _log.Info($"cluster {cluster}: JUnit results (one test case per step) in {path}");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _log.Warn($"cluster {cluster}: the JUnit results could not be written to {path} ({ex.Message}); the build's own log has the same steps.");
        }
    }

    /// <summary>
    /// The Deploy step and one Rollout test case per workload, from what the deploy returned (or, when it failed, the
    /// result its exception carries); a workload's failure is its one-line cause from the diagnostics, else what the
    /// wait last saw.
    /// </summary>
    public static IReadOnlyList<StepResult> FromDeploy(DateTimeOffset started, TimeSpan time, DeployResult? result, Exception? error)
    {
        var bundle = result?.Diagnostics;
        var deploy = new StepResult("Deploy", "Deploy", started, time) { ReportPath = bundle?.ReportPath };
        if (error is not null)
        {
            deploy = deploy with { Failure = FirstLine(error.Message), Details = error is KubeDindException { Details: { } details } ? error.Message + "\n" + details : error.Message };
        }

        var steps = new List<StepResult> { deploy };
        foreach (var workload in result?.Objects.Where(o => o.Rollout is not null) ?? [])
        {
            var step = new StepResult("Rollout", $"Rollout {workload.Kind} {workload.Namespace ?? "default"}/{workload.Name}", started, workload.RolloutTime ?? time);
            if (workload.Rollout is not RolloutState.Ready)
            {
                var cause = bundle?.Causes.FirstOrDefault(c => c.Workload == workload.Name && (c.Namespace is null || c.Namespace == (workload.Namespace ?? "default")));
                step = step with { Failure = cause?.Line ?? $"{workload.Name}: {workload.State}", Details = workload.ToString(), ReportPath = bundle?.ReportPath };
            }

            steps.Add(step);
        }

        return steps;
    }

    /// <summary>A step that ended in an exception: its first line is the cause; a diagnostics bundle it carries gives the report.</summary>
    public static StepResult Failed(string step, string name, DateTimeOffset started, TimeSpan time, Exception error) =>
        new(step, name, started, time)
        {
            Failure = FirstLine(error.Message),
            Details = error is KubeDindException { Details: { } details } ? error.Message + "\n" + details : error.Message,
            ReportPath = (error as DeployFailedException)?.Diagnostics?.ReportPath,
        };

    private static string FirstLine(string text) => text.Split('\n', 2)[0].TrimEnd('\r', ':');
}
