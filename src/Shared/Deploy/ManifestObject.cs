using k8s;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KubeDind.Deploy;

/// <summary>
/// One Kubernetes object read from a manifest, kept as the YAML it was written in (YamlDotNet's representation
/// model). Server-side apply takes YAML, so the API server reads every scalar, anchor and merge key exactly as
/// kubectl would (YAML 1.1: a bare <c>0644</c> is 420, a bare <c>on</c> is true), and kinds the client has no model
/// for (CRD instances) pass through untouched. <see cref="Source"/> and <see cref="DocumentIndex"/> say where it
/// came from for error messages.
/// </summary>
public sealed class ManifestObject
{
    public ManifestObject(YamlMappingNode document, string source, int documentIndex, int line)
    {
        Document = document;
        Source = source;
        DocumentIndex = documentIndex;
        Line = line;
    }

    /// <summary>The object as written; image rewrites and the default namespace are applied to it in place.</summary>
    public YamlMappingNode Document { get; }

    /// <summary>File path, or "inline manifest #n".</summary>
    public string Source { get; }

    /// <summary>1-based index of the YAML document in its source.</summary>
    public int DocumentIndex { get; }

    /// <summary>1-based line where the document starts.</summary>
    public int Line { get; }

    public string ApiVersion => TextOf(Document, "apiVersion") ?? string.Empty;

    public string Kind => TextOf(Document, "kind") ?? string.Empty;

    public string Name => TextOf(ValueOf(Document, "metadata"), "name") ?? string.Empty;

    public string? Namespace
    {
        get => TextOf(ValueOf(Document, "metadata"), "namespace");
        set
        {
            var metadata = ValueOf(Document, "metadata") as YamlMappingNode
                ?? throw new KubeDindException($"Deploy: {Origin}: {Kind} has no metadata mapping to set its namespace in; give it metadata.name.");
            var key = metadata.Children.Keys.FirstOrDefault(k => k is YamlScalarNode { Value: "namespace" }) ?? new YamlScalarNode("namespace");
            if (value is null)
            {
                metadata.Children.Remove(key);
            }
            else
            {
                // Quoted, so a namespace such as "on" or "123" stays a string for the server's YAML 1.1 reader.
                metadata.Children[key] = new YamlScalarNode(value) { Style = ScalarStyle.DoubleQuoted };
            }
        }
    }

    /// <summary>"" for the core group.</summary>
    public string Group => ApiVersion.Contains('/', StringComparison.Ordinal) ? ApiVersion[..ApiVersion.IndexOf('/', StringComparison.Ordinal)] : string.Empty;

    public string Version => ApiVersion.Contains('/', StringComparison.Ordinal) ? ApiVersion[(ApiVersion.IndexOf('/', StringComparison.Ordinal) + 1)..] : ApiVersion;

    /// <summary>"Deployment web" or "Deployment shop/web".</summary>
    public string DisplayName => Namespace is { Length: > 0 } ns ? $"{Kind} {ns}/{Name}" : $"{Kind} {Name}";

    public string Origin => $"{Source} (document {DocumentIndex}, line {Line})";

    public override string ToString() => DisplayName;

    /// <summary>The object as one YAML document, anchors it uses included: the server-side apply body.</summary>
    public string ToYaml()
    {
        using var writer = new StringWriter();
        new YamlStream(new YamlDocument(Document)).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    /// <summary>The object as the client's typed model of a built-in kind (its fields as the API server reads them).</summary>
    internal T ToModel<T>() => KubernetesYaml.Deserialize<T>(ToYaml());

    /// <summary>An object built in code from the client's typed model, serialized the way the client writes it.</summary>
    internal static ManifestObject FromModel(object model, string source) =>
        ManifestReader.ReadText(KubernetesYaml.Serialize(model), source).Single();

    /// <summary>The value under a key of a mapping; null when <paramref name="node"/> is no mapping or lacks the key.</summary>
    internal static YamlNode? ValueOf(YamlNode? node, string key) =>
        node is YamlMappingNode mapping
            ? mapping.Children.FirstOrDefault(entry => entry.Key is YamlScalarNode { Value: var name } && name == key).Value
            : null;

    /// <summary>A scalar's text; null when it is missing, not a scalar, or a YAML null (empty, ~, null).</summary>
    internal static string? TextOf(YamlNode? node, string key) =>
        ValueOf(node, key) is YamlScalarNode { Value: var text } scalar && !(scalar.Style == ScalarStyle.Plain && text is null or "" or "~" or "null" or "Null" or "NULL")
            ? text
            : null;
}
