using System.Text.Json;
using KubeDind.Docker;

namespace KubeDind.Cluster;

/// <summary>One gate as <c>kubedind-ready</c> reported it: passed, waiting, failed or pending (not checked yet).</summary>
internal sealed record InnerGate(string Name, string Status, string? Reason);

/// <summary>
/// What <c>kubedind-ready</c> said (its JSON): the first gate not passed and why, every gate's status, and the
/// components that run. Exit 2 means a component failed for good (or the container is stopping). The JSON is the
/// contract with the image's <c>/usr/local/bin/kubedind-ready</c>: a field renamed on one side must be renamed on both.
/// </summary>
internal sealed record InnerReadiness(long ExitCode, string Status, string? Gate, string Reason, IReadOnlyList<InnerGate> Gates, IReadOnlyList<ClusterComponent> Components)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    public bool Ready => ExitCode == 0;

    public bool Failed => ExitCode == 2;

    /// <summary>One line for logs and errors: "ready", or "&lt;gate&gt; &lt;status&gt;: &lt;reason&gt;".</summary>
    public string Line => Ready ? "ready" : $"{Gate ?? "unknown"} {Status}{(Reason.Length > 0 ? ": " + Reason : string.Empty)}";

    public bool HasPassed(string gate) => Ready || Gates.Any(g => g.Name == gate && g.Status == "passed");

    public static InnerReadiness Parse(ExecResult result)
    {
        var output = result.StandardOutput.Trim();
        try
        {
            var parsed = JsonSerializer.Deserialize<Document>(output, Json);
            if (parsed?.Status is { } status)
            {
                return new InnerReadiness(
                    result.ExitCode,
                    status,
                    parsed.Gate,
                    parsed.Reason ?? string.Empty,
                    parsed.Gates?.Select(g => new InnerGate(g.Name ?? "?", g.Status ?? "?", g.Reason)).ToList() ?? [],
                    parsed.Components?.Select(c => new ClusterComponent(c.Role ?? "?", c.Implementation ?? "none", c.Fallback, c.Detail ?? string.Empty, c.Pods ?? [])).ToList() ?? []);
            }
        }
        catch (JsonException)
        {
        }

        // Not kubedind-ready's JSON: the exec itself failed (the container stopping, say); its first line is the reason.
        return new InnerReadiness(result.ExitCode, result.ExitCode == 2 ? "failed" : "waiting", "unknown", result.FirstOutputLine, [], []);
    }

    private sealed record Document(string? Status, string? Gate, string? Reason, List<GateDocument>? Gates, List<ComponentDocument>? Components);

    private sealed record GateDocument(string? Name, string? Status, string? Reason);

    private sealed record ComponentDocument(string? Role, string? Implementation, bool Fallback, string? Detail, List<string>? Pods);
}
