namespace KubeDind.Results;

/// <summary>
/// One step of a run as CI shows it: a test case named after the step (StartMirror, StartCluster, PushImage &lt;image&gt;,
/// Deploy, Rollout &lt;Kind ns/name&gt;), when it started, how long it took and, when it failed, its one-line cause.
/// </summary>
/// <param name="Step">The step's kind: StartMirror, StartCluster, PushImage, LoadImage, Deploy or Rollout.</param>
/// <param name="Name">The test case's name.</param>
public sealed record StepResult(string Step, string Name, DateTimeOffset Started, TimeSpan Time)
{
    /// <summary>The one-line cause when the step failed; null when it passed.</summary>
    public string? Failure { get; init; }

    /// <summary>The whole error text when the step failed (may span lines).</summary>
    public string? Details { get; init; }

    /// <summary>The diagnostics report (report.html) that explains the failure, when one was written.</summary>
    public string? ReportPath { get; init; }

    public bool Failed => Failure is not null;
}
