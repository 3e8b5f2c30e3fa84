using System.Text.Json.Nodes;
using k8s;

namespace KubeDind.Deploy;

/// <summary>
/// One Kubernetes object read from a manifest, kept as a generic JSON tree so kinds the client has no
/// model for (CRD instances) pass through untouched. <see cref="Source"/> and <see cref="DocumentIndex"/>
/// say where it came from for error messages.
/// </summary>
public sealed class ManifestObject
{
    public ManifestObject(JsonObject body, string source, int documentIndex, int line)
    {
        Body = body;
        Source = source;
        DocumentIndex = documentIndex;
        Line = line;
    }

    public JsonObject Body { get; }

    /// <summary>File path, or "inline manifest #n".</summary>
    public string Source { get; }

    /// <summary>1-based index of the YAML document in its source.</summary>
    public int DocumentIndex { get; }

    /// <summary>1-based line where the document starts.</summary>
    public int Line { get; }

    public string ApiVersion => (string?)Body["apiVersion"] ?? string.Empty;

    public string Kind => (string?)Body["kind"] ?? string.Empty;

    public string Name => (string?)Body["metadata"]?["name"] ?? string.Empty;

    public string? Namespace
    {
        get => (string?)Body["metadata"]?["namespace"];
        set => ((JsonObject)Body["metadata"]!)["namespace"] = value;
    }

    /// <summary>"" for the core group.</summary>
    public string Group => ApiVersion.Contains('/', StringComparison.Ordinal) ? ApiVersion[..ApiVersion.IndexOf('/', StringComparison.Ordinal)] : string.Empty;

    public string Version => ApiVersion.Contains('/', StringComparison.Ordinal) ? ApiVersion[(ApiVersion.IndexOf('/', StringComparison.Ordinal) + 1)..] : ApiVersion;

    /// <summary>"Deployment web" or "Deployment shop/web".</summary>
    public string DisplayName => Namespace is { Length: > 0 } ns ? $"{Kind} {ns}/{Name}" : $"{Kind} {Name}";

    public string Origin => $"{Source} (document {DocumentIndex}, line {Line})";

    public override string ToString() => DisplayName;

    /// <summary>An object built in code from the client's typed model, serialized the way the client sends it.</summary>
    internal static ManifestObject FromModel(object model, string source) =>
        new((JsonObject)JsonNode.Parse(KubernetesJson.Serialize(model))!, source, 1, 1);

    /// <summary>The body as the client's typed model of a built-in kind (its fields as the API server reads them).</summary>
    internal T ToModel<T>() => KubernetesJson.Deserialize<T>(Body.ToJsonString());
}
