using k8s.Models;

namespace KubeDind.Diagnostics;

/// <summary>One fact about the cluster shown in a report ("k3s" → "v1.21.2+k3s1", "dns" → "dnsmasq (KubeDind fallback)").</summary>
public sealed record ClusterFact(string Name, string Value);

/// <summary>One container's log as collected (of its current instance, or of the previous one after a restart).</summary>
public sealed record CollectedLog(string Namespace, string Pod, string Container, bool Previous, string Text)
{
    /// <summary>Why the log could not be read (a container that never started), instead of <see cref="Text"/>.</summary>
    public string? Error { get; init; }
}

/// <summary>
/// What a diagnostics collection read from the cluster, as the bundle's files and its report are written from it:
/// the causes (most actionable first), pods, events, nodes, container logs and the cluster's facts. The texts are as
/// the cluster gave them; <see cref="SecretValues"/> are what <see cref="Redaction"/> removes before any of it is written.
/// </summary>
public sealed record DiagnosticsSnapshot
{
    public required string ClusterName { get; init; }

    public DateTimeOffset Taken { get; init; } = DateTimeOffset.UtcNow;

    public IReadOnlyList<FailureCause> Causes { get; init; } = [];

    public IReadOnlyList<V1Pod> Pods { get; init; } = [];

    public IReadOnlyList<Corev1Event> Events { get; init; } = [];

    public IReadOnlyList<V1Node> Nodes { get; init; } = [];

    public IReadOnlyList<CollectedLog> Logs { get; init; } = [];

    public IReadOnlyList<ClusterFact> Facts { get; init; } = [];

    /// <summary>Parts that could not be read ("could not list events: ..."), shown at the top of the report.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];

    /// <summary>Values that never reach a file or the report (the cluster's Secret data).</summary>
    public IReadOnlyList<string> SecretValues { get; init; } = [];
}
