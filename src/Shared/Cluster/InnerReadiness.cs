using System.Text.Json;
using KubeDind.Docker;

namespace KubeDind.Cluster;

/// <summary>One gate as <c>kubedind-ready</c> reported it: passed, waiting, failed or pending (not checked yet).</summary>
internal sealed record InnerGate(string Name, string Status, string? Reason);

/// <summary>
/// What <c>kubedind-ready</c> said (its JSON): the first gate not passed and why, every gate's status, and the image's
/// status document (<see cref="ImageStatus"/>: which components run). Exit 2 means a component failed for good (or the
/// container is stopping). Whether Kubernetes is ready is not its to say: <see cref="ClusterGates"/> decide that.
/// </summary>
internal sealed record InnerReadiness(long ExitCode, string Status, string? Gate, string Reason, IReadOnlyList<InnerGate> Gates, ImageStatus? Image)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    public bool Ready => ExitCode == 0;

    public bool Failed => ExitCode == 2;

    /// <summary>One line for logs and errors: "ready", or "&lt;gate&gt; &lt;status&gt;: &lt;reason&gt;".</summary>
    public string Line => Ready ? "ready" : $"{Gate ?? "unknown"} {Status}{(Reason.Length > 0 ? ": " + Reason : string.Empty)}";

    /// <summary>The components that run (empty before the image has chosen them, and in compose mode).</summary>
    public IReadOnlyList<ClusterComponent> Components => Image?.Components ?? [];

    public bool HasPassed(string gate) => Ready || Gates.Any(g => g.Name == gate && g.Status == "passed");

    /// <summary>
    /// Reads kubedind-ready's output from a container of <paramref name="image"/>; throws a one-line
    /// <see cref="KubeDindException"/> when its status document is of a schema version this core does not read.
    /// </summary>
    public static InnerReadiness Parse(ExecResult result, string image)
    {
        var output = result.StandardOutput.Trim();
        try
        {
            var parsed = JsonSerializer.Deserialize<Document>(output, Json);
            if (parsed?.Status is { } status)
            {
                var document = parsed.Image is { ValueKind: JsonValueKind.Object } element ? ImageStatus.Parse(element.GetRawText(), image) : null;
                return new InnerReadiness(
                    result.ExitCode,
                    status,
                    parsed.Gate,
                    parsed.Reason ?? string.Empty,
                    parsed.Gates?.Select(g => new InnerGate(g.Name ?? "?", g.Status ?? "?", g.Reason)).ToList() ?? [],
                    document);
            }
        }
        catch (JsonException)
        {
        }

        // Not kubedind-ready's JSON: the exec itself failed (the container stopping, say); its first line is the reason.
        return new InnerReadiness(result.ExitCode, result.ExitCode == 2 ? "failed" : "waiting", "unknown", result.FirstOutputLine, [], null);
    }

    private sealed record Document(string? Status, string? Gate, string? Reason, List<GateDocument>? Gates, JsonElement? Image);

    private sealed record GateDocument(string? Name, string? Status, string? Reason);
}
