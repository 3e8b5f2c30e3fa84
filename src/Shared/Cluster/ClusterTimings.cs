namespace KubeDind.Cluster;

/// <summary>How long each part of a cluster start took, measured from the start of <see cref="StartCluster.RunAsync"/>.</summary>
/// <param name="ImageReady">The image was found or built.</param>
/// <param name="ContainerStarted">The container was created and started (fallback retry included).</param>
/// <param name="Gates">Each readiness gate, with the time it passed.</param>
/// <param name="Ready">Every gate passed and the kubeconfig was written.</param>
public sealed record ClusterTimings(TimeSpan ImageReady, TimeSpan ContainerStarted, IReadOnlyList<(string Gate, TimeSpan Elapsed)> Gates, TimeSpan Ready)
{
    /// <summary>"warm start from &lt;state&gt; (saved &lt;date&gt;)" or "cold start: &lt;why&gt;".</summary>
    public string Start { get; init; } = "cold start";

    /// <summary>When the agent containers of a multi-node cluster had started (after the server's join token); null for one node.</summary>
    public TimeSpan? AgentsStarted { get; init; }

    /// <summary>How long copying the saved state into the container took (warm starts, and failed attempts).</summary>
    public TimeSpan? StateRestore { get; init; }

    /// <summary>
    /// Where the start spent its time, phase by phase: image, container start, agents start (several nodes), then one phase per readiness gate
    /// (container running, dockerd, registry, API, node Ready, service account, system pods), each the time since the previous.
    /// </summary>
    public IReadOnlyList<(string Phase, TimeSpan Duration)> Phases()
    {
        var phases = new List<(string, TimeSpan)> { ("image", ImageReady), ("container start", ContainerStarted - ImageReady) };
        var previous = ContainerStarted;
        if (AgentsStarted is { } agents)
        {
            phases.Add(("agents start", agents - ContainerStarted));
            previous = agents;
        }

        foreach (var (gate, elapsed) in Gates)
        {
            phases.Add((PhaseName(gate), elapsed - previous));
            previous = elapsed;
        }

        phases.Add(("kubeconfig and result", Ready - previous));
        return phases;
    }

    /// <summary>The start in a few words for the run's timeline: warm or cold, and the slowest of <see cref="Phases"/>.</summary>
    public string Brief()
    {
        var kind = Start.StartsWith("warm start", StringComparison.Ordinal) ? "warm start" : "cold start";
        var (phase, duration) = Phases().MaxBy(p => p.Duration);
        return FormattableString.Invariant($"{kind}; slowest part: {phase} {duration.TotalSeconds:0.0} s");
    }

    /// <summary>A gate's phase name without its endpoint, so runs can be compared.</summary>
    public static string PhaseName(string gate)
    {
        ArgumentNullException.ThrowIfNull(gate);
        return gate switch
        {
            _ when gate.StartsWith("container running", StringComparison.Ordinal) => "container running",
            _ when gate.Contains("dockerd", StringComparison.Ordinal) => "dockerd",
            _ when gate.StartsWith("registry", StringComparison.Ordinal) => "registry",
            _ when gate.StartsWith("Kubernetes API", StringComparison.Ordinal) => "API",
            _ when gate.StartsWith("node Ready", StringComparison.Ordinal) => "node Ready",
            _ when gate.Contains("service account", StringComparison.Ordinal) => "service account",
            _ when gate.Contains("kube-system", StringComparison.Ordinal) => "system pods",
            _ when gate.Contains("certificate", StringComparison.Ordinal) => "serving certificate",
            _ when gate.StartsWith("pushes of its images", StringComparison.Ordinal) => "pushes started",
            _ when gate.EndsWith("pushed into its registry", StringComparison.Ordinal) => "images pushed",
            _ => gate,
        };
    }

    public override string ToString() =>
        $"image {ImageReady.TotalSeconds:0.0}s, container started {ContainerStarted.TotalSeconds:0.0}s, "
        + (AgentsStarted is { } agents ? $"agents started {agents.TotalSeconds:0.0}s, " : string.Empty)
        + string.Join(", ", Gates.Select(g => $"{g.Gate} {g.Elapsed.TotalSeconds:0.0}s"))
        + $", ready {Ready.TotalSeconds:0.0}s";
}
