using KubeDind.Diagnostics;

namespace KubeDind.Deploy;

/// <summary>One object the deploy applied, and where it ended.</summary>
public sealed record AppliedObject(string ApiVersion, string Kind, string Name, string? Namespace, bool Created, RolloutState? Rollout, string State)
{
    /// <summary>For a workload: how long its rollout took to end (ready, failed or timed out); null for other objects.</summary>
    public TimeSpan? RolloutTime { get; init; }

    public override string ToString() => $"{Kind} {(Namespace is null ? string.Empty : Namespace + "/")}{Name}: {State}";
}

/// <summary>What a deploy did: every object applied and its final state, the images it used, its warnings.</summary>
public sealed record DeployResult(
    IReadOnlyList<AppliedObject> Objects,
    IReadOnlyList<ImageUse> Images,
    IReadOnlyList<string> Warnings,
    TimeSpan Elapsed,
    DiagnosticsBundle? Diagnostics = null)
{
    public bool Succeeded => Objects.All(o => o.Rollout is null or RolloutState.Ready);
}

/// <summary>A deploy whose rollout failed or timed out: the message names the cause and the diagnostics folder.</summary>
public sealed class DeployFailedException : KubeDindException
{
    public DeployFailedException(string message, string? details, DeployResult result)
        : base(message, details)
    {
        Result = result;
    }

    public DeployResult Result { get; }

    public DiagnosticsBundle? Diagnostics => Result.Diagnostics;
}
