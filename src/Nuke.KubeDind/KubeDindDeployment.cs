namespace Nuke.KubeDind;

/// <summary>What the <see cref="IKubeDind.Deploy"/> target applies to the cluster.</summary>
public sealed record KubeDindDeployment
{
    /// <summary>YAML files or directories of YAML files, applied in this order.</summary>
    public IReadOnlyList<string> Manifests { get; init; } = [];

    /// <summary>Namespace for objects that name none; null = <c>default</c>.</summary>
    public string? Namespace { get; init; }

    /// <summary>How long to wait for every applied workload to become ready.</summary>
    public TimeSpan ReadinessTimeout { get; init; } = TimeSpan.FromMinutes(5);
}
