namespace KubeDind.Cluster;

public enum PrivilegeMode
{
    /// <summary>Ask for --privileged; when the engine refuses, fall back and warn once.</summary>
    Auto,
    Privileged,
    Fallback,
}

// CONTRACT STUB (helper "cluster" fills in).
public sealed record ClusterSettings
{
    public string? Name { get; init; }

    public string? Image { get; init; }

    public IReadOnlyList<string> MirrorUrls { get; init; } = [];

    public string? Network { get; init; }

    public bool Kubernetes { get; init; } = true;

    public TimeSpan ReadinessTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public PrivilegeMode Privilege { get; init; } = PrivilegeMode.Auto;

    public IReadOnlyList<string> K3sArgs { get; init; } = [];

    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();
}
