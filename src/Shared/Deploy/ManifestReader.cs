using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.FileSystemGlobbing;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace KubeDind.Deploy;

/// <summary>
/// Reads manifests (files, directories, globs, inline YAML) into generic objects: multi-document YAML,
/// comments, anchors and merge keys, empty documents skipped, <c>List</c> kinds expanded. Plain scalars
/// are typed the way kubectl's YAML 1.1 reader types them (so <c>replicas: 2</c> is a number and
/// <c>"2"</c> a string). Every bad input is one line naming the file and document.
/// </summary>
public static partial class ManifestReader
{
    private static readonly string[] ManifestExtensions = [".yaml", ".yml", ".json"];

    /// <summary>Reads plain manifests; a kustomization among them needs a cluster to render it (<see cref="ReadAsync"/>).</summary>
    public static IReadOnlyList<ManifestObject> Read(DeploySettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var sources = ResolveSources(settings.Manifests, settings.BaseDirectory ?? Directory.GetCurrentDirectory());
        if (sources.FirstOrDefault(s => s.IsKustomization) is { } kustomization)
        {
            throw new KubeDindException($"Deploy: {kustomization.Path} is a kustomization, which is rendered in a KubeDind cluster's container; render it yourself (kubectl kustomize) and give the output here.");
        }

        return Collect(settings, sources.Select(s => ReadText(File.ReadAllText(s.Path), s.Path)));
    }

    /// <summary>
    /// Reads the manifests, rendering each kustomization (a folder holding kustomization.yaml, or that file) with
    /// <paramref name="kustomize"/>; the objects it renders carry the kustomization file as their origin.
    /// </summary>
    internal static async Task<IReadOnlyList<ManifestObject>> ReadAsync(DeploySettings settings, IKustomize? kustomize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var parts = new List<IReadOnlyList<ManifestObject>>();
        foreach (var source in ResolveSources(settings.Manifests, settings.BaseDirectory ?? Directory.GetCurrentDirectory()))
        {
            if (!source.IsKustomization)
            {
                parts.Add(ReadText(await File.ReadAllTextAsync(source.Path, cancellationToken).ConfigureAwait(false), source.Path));
                continue;
            }

            if (kustomize is null)
            {
                throw new KubeDindException($"Deploy: {source.Path} is a kustomization, and this cluster has no container to render it in (an existing cluster); render it yourself (kubectl kustomize) and give the output.");
            }

            var tree = KustomizationTree.Collect(source.Path);
            var rendered = await kustomize.BuildAsync(tree, cancellationToken).ConfigureAwait(false);
            parts.Add(ReadText(rendered, source.Path));
        }

        return Collect(settings, parts);
    }

    private static List<ManifestObject> Collect(DeploySettings settings, IEnumerable<IReadOnlyList<ManifestObject>> fromFiles)
    {
        var objects = fromFiles.SelectMany(o => o).ToList();
        for (var i = 0; i < settings.InlineManifests.Count; i++)
        {
            objects.AddRange(ReadText(settings.InlineManifests[i], $"inline manifest #{i + 1}"));
        }

        if (objects.Count == 0)
        {
            throw new KubeDindException("Deploy: the manifests name no Kubernetes object; give DeploySettings.Manifests files, directories or globs that hold YAML, or InlineManifests.");
        }

        return objects;
    }

    /// <summary>
    /// Manifest files and kustomizations in a stable order: each entry's matches sorted by path, entries in the order
    /// given, no duplicates. A folder holding a kustomization file, or that file named itself, is one kustomization.
    /// </summary>
    internal static IReadOnlyList<ManifestSource> ResolveSources(IReadOnlyList<string> entries, string baseDirectory)
    {
        var sources = new List<ManifestSource>();
        foreach (var entry in entries)
        {
            var path = Path.GetFullPath(entry, baseDirectory);
            if (File.Exists(path) && KustomizationTree.IsKustomizationFile(path))
            {
                AddOnce(sources, new ManifestSource(path, IsKustomization: true));
                continue;
            }

            if (Directory.Exists(path) && KustomizationTree.FindIn(path) is { } kustomization)
            {
                AddOnce(sources, new ManifestSource(kustomization, IsKustomization: true));
                continue;
            }

            IEnumerable<string> matches;
            if (File.Exists(path))
            {
                matches = [path];
            }
            else if (Directory.Exists(path))
            {
                matches = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(IsManifestFile);
            }
            else if (entry.IndexOfAny(['*', '?']) >= 0)
            {
                matches = Glob(path);
            }
            else
            {
                throw new KubeDindException($"Deploy: manifest '{entry}' does not exist (looked at {path}); fix the path in DeploySettings.Manifests.");
            }

            var sorted = matches.Order(StringComparer.Ordinal).ToList();
            if (sorted.Count == 0)
            {
                throw new KubeDindException($"Deploy: manifest pattern '{entry}' matches no file (looked under {baseDirectory}); fix the pattern in DeploySettings.Manifests.");
            }

            if (sorted.FirstOrDefault(KustomizationTree.IsKustomizationFile) is { } nested)
            {
                throw new KubeDindException($"Deploy: manifest '{entry}' takes in the kustomization {nested} as a plain file; name its folder ({Path.GetDirectoryName(nested)}) in DeploySettings.Manifests to render it, and keep other manifests outside it.");
            }

            foreach (var file in sorted)
            {
                AddOnce(sources, new ManifestSource(file, IsKustomization: false));
            }
        }

        return sources;

        static void AddOnce(List<ManifestSource> sources, ManifestSource source)
        {
            if (!sources.Any(s => s.Path == source.Path))
            {
                sources.Add(source);
            }
        }
    }

    public static IReadOnlyList<ManifestObject> ReadText(string yaml, string source)
    {
        var objects = new List<ManifestObject>();
        try
        {
            // MergingParser expands merge keys (<<: *base) into the events the tree is built from.
            var parser = new MergingParser(new Parser(new StringReader(yaml)));
            var anchors = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
            parser.Consume<StreamStart>();
            var document = 0;
            while (parser.TryConsume<DocumentStart>(out _))
            {
                document++;
                var line = (int)parser.Current!.Start.Line;
                var node = ReadNode(parser, anchors, source, document);
                parser.Consume<DocumentEnd>();
                anchors.Clear();
                if (node is null || (node is JsonObject { Count: 0 }))
                {
                    continue; // an empty document ("---" twice, or only comments)
                }

                if (node is not JsonObject body)
                {
                    throw new KubeDindException($"Deploy: {source}: document {document} (line {line}) is not a mapping; a manifest document must be a Kubernetes object with apiVersion and kind.");
                }

                AddObject(objects, body, source, document, line);
            }
        }
        catch (YamlException ex)
        {
            var reason = (ex.InnerException?.Message ?? ex.Message).Split('\n')[0];
            reason = MarkPrefix().Replace(reason, string.Empty);
            throw new KubeDindException($"Deploy: {source}: YAML syntax error at line {ex.Start.Line}, column {ex.Start.Column}: {reason.TrimEnd('.')}; fix the YAML and deploy again.", ex.Message, ex);
        }

        return objects;
    }

    private static void AddObject(List<ManifestObject> objects, JsonObject body, string source, int document, int line)
    {
        var kind = body["kind"] is JsonValue k && k.TryGetValue<string>(out var ks) ? ks : null;
        var apiVersion = body["apiVersion"] is JsonValue a && a.TryGetValue<string>(out var avs) ? avs : null;
        if (string.IsNullOrWhiteSpace(kind) || string.IsNullOrWhiteSpace(apiVersion))
        {
            var missing = string.IsNullOrWhiteSpace(kind) && string.IsNullOrWhiteSpace(apiVersion) ? "kind and apiVersion" : string.IsNullOrWhiteSpace(kind) ? "kind" : "apiVersion";
            throw new KubeDindException($"Deploy: {source}: document {document} (line {line}) has no {missing}; every manifest document needs both.");
        }

        if (kind.EndsWith("List", StringComparison.Ordinal) && body["items"] is JsonArray items)
        {
            foreach (var item in items.ToList())
            {
                if (item is not JsonObject itemBody)
                {
                    throw new KubeDindException($"Deploy: {source}: document {document} (line {line}) is a {kind} whose items are not all objects.");
                }

                items.Remove(itemBody);
                AddObject(objects, itemBody, source, document, line);
            }

            return;
        }

        if (body["metadata"] is not JsonObject metadata || metadata["name"] is not JsonValue name || string.IsNullOrWhiteSpace(name.ToString()))
        {
            throw new KubeDindException($"Deploy: {source}: document {document} (line {line}): {kind} has no metadata.name; give every object a name (generateName cannot be re-applied).");
        }

        objects.Add(new ManifestObject(body, source, document, line));
    }

    private static JsonNode? ReadNode(IParser parser, Dictionary<string, JsonNode?> anchors, string source, int document)
    {
        var current = parser.Current ?? throw new KubeDindException($"Deploy: {source}: document {document} ends in the middle of a node.");
        parser.MoveNext();
        JsonNode? node;
        switch (current)
        {
            case AnchorAlias alias:
                return anchors.TryGetValue(alias.Value.Value, out var anchored)
                    ? anchored?.DeepClone()
                    : throw new YamlException(alias.Start, alias.End, $"alias *{alias.Value} names no anchor before it");
            case Scalar scalar:
                node = ToScalar(scalar);
                break;
            case SequenceStart:
                var array = new JsonArray();
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    array.Add(ReadNode(parser, anchors, source, document));
                }

                node = array;
                break;
            case MappingStart mapping:
                var obj = new JsonObject();
                var explicitKeys = new HashSet<string>(StringComparer.Ordinal);
                while (!parser.TryConsume<MappingEnd>(out _))
                {
                    var keyEvent = parser.Current!;
                    var key = keyEvent is Scalar keyScalar ? keyScalar.Value : ReadNode(parser, anchors, source, document)?.ToJsonString() ?? "null";
                    if (keyEvent is Scalar)
                    {
                        parser.MoveNext();
                    }

                    // MergingParser replays the anchored events, which keep the anchor's (earlier) position:
                    // that tells merged keys from the mapping's own, and the mapping's own keys win.
                    var merged = keyEvent.Start.Index < mapping.Start.Index;
                    var value = ReadNode(parser, anchors, source, document);
                    if (!obj.ContainsKey(key))
                    {
                        obj[key] = value;
                    }
                    else if (!merged && !explicitKeys.Contains(key))
                    {
                        obj[key] = value;
                    }
                    else if (!merged)
                    {
                        throw new YamlException(keyEvent.Start, keyEvent.End, $"Duplicate key {key}");
                    }

                    if (!merged)
                    {
                        explicitKeys.Add(key);
                    }
                }

                node = obj;
                break;
            default:
                throw new KubeDindException($"Deploy: {source}: document {document} holds a YAML node the reader does not understand at line {current.Start.Line}.");
        }

        if (current is NodeEvent { Anchor.IsEmpty: false } anchoredEvent)
        {
            anchors[anchoredEvent.Anchor.Value] = node?.DeepClone();
        }

        return node;
    }

    private static JsonNode? ToScalar(Scalar scalar)
    {
        var value = scalar.Value ?? string.Empty;
        var tag = scalar.Tag.IsEmpty ? null : scalar.Tag.Value;
        if (tag is "tag:yaml.org,2002:str" || scalar.Style is not ScalarStyle.Plain && tag is null)
        {
            return JsonValue.Create(value);
        }

        if (tag is "tag:yaml.org,2002:null" || value is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        // YAML 1.1 booleans, as kubectl's reader (go-yaml v2) sees them.
        switch (value)
        {
            case "true" or "True" or "TRUE" or "yes" or "Yes" or "YES" or "on" or "On" or "ON":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE" or "no" or "No" or "NO" or "off" or "Off" or "OFF":
                return JsonValue.Create(false);
        }

        if (IntegerPattern().IsMatch(value) && long.TryParse(value.Replace("_", string.Empty, StringComparison.Ordinal), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (value.StartsWith("0x", StringComparison.Ordinal) && long.TryParse(value[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var hex))
        {
            return JsonValue.Create(hex);
        }

        // YAML 1.1 octal: kubectl reads a bare "defaultMode: 0644" as 420, the mode the user meant.
        if (OctalPattern().IsMatch(value))
        {
            var digits = value.TrimStart('-', '+').Replace("_", string.Empty, StringComparison.Ordinal);
            var octal = Convert.ToInt64(digits, 8);
            return JsonValue.Create(value.StartsWith('-') ? -octal : octal);
        }

        if (FloatPattern().IsMatch(value) && double.TryParse(value.Replace("_", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture, out var real))
        {
            return JsonValue.Create(real);
        }

        return JsonValue.Create(value);
    }

    private static bool IsManifestFile(string path) =>
        ManifestExtensions.Contains(Path.GetExtension(path), StringComparer.OrdinalIgnoreCase);

    private static IEnumerable<string> Glob(string pattern)
    {
        // The directory part before the first wildcard is the root; the rest is the pattern
        // (** crosses directories, * and ? stay within one).
        var normalized = pattern.Replace('\\', '/');
        var firstWildcard = normalized.IndexOfAny(['*', '?']);
        var slash = normalized.LastIndexOf('/', firstWildcard);
        var root = slash < 0 ? Directory.GetCurrentDirectory() : normalized[..(slash + 1)];
        if (!Directory.Exists(root))
        {
            return [];
        }

        var matcher = new Matcher(StringComparison.Ordinal);
        matcher.AddInclude(normalized[(slash + 1)..]);
        return matcher.GetResultsInFullPath(root);
    }

    [GeneratedRegex(@"^[-+]?(0|[1-9][0-9_]*)$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?0[0-7_]+$")]
    private static partial Regex OctalPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9][0-9_]*\.[0-9]*|[0-9][0-9_]*(\.[0-9]*)?[eE][-+]?[0-9]+)$")]
    private static partial Regex FloatPattern();

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();
}

/// <summary>A manifest file, or a kustomization file whose folder is rendered.</summary>
internal sealed record ManifestSource(string Path, bool IsKustomization);
