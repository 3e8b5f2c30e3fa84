using System.Text.RegularExpressions;
using Microsoft.Extensions.FileSystemGlobbing;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KubeDind.Deploy;

/// <summary>
/// Reads manifests (files, directories, globs, inline YAML) into YAML objects with YamlDotNet: multi-document
/// YAML, comments, anchors, empty documents skipped, <c>List</c> kinds expanded. Scalars are left as written:
/// the API server types them (and expands merge keys) when it reads the server-side apply body, as it does for
/// kubectl. Every bad input is one line naming the file and document.
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
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            var reason = (ex.InnerException?.Message ?? ex.Message).Split('\n')[0];
            reason = MarkPrefix().Replace(reason, string.Empty);
            throw new KubeDindException($"Deploy: {source}: YAML syntax error at line {ex.Start.Line}, column {ex.Start.Column}: {reason.TrimEnd('.')}; fix the YAML and deploy again.", ex.Message, ex);
        }

        var objects = new List<ManifestObject>();
        var document = 0;
        foreach (var root in stream.Documents.Select(d => d.RootNode))
        {
            document++;
            var line = (int)root.Start.Line;
            if (root is YamlScalarNode { Style: ScalarStyle.Plain, Value: null or "" } or YamlMappingNode { Children.Count: 0 })
            {
                continue; // an empty document ("---" twice, or only comments)
            }

            if (root is not YamlMappingNode body)
            {
                throw new KubeDindException($"Deploy: {source}: document {document} (line {line}) is not a mapping; a manifest document must be a Kubernetes object with apiVersion and kind.");
            }

            AddObject(objects, body, source, document, line);
        }

        return objects;
    }

    private static void AddObject(List<ManifestObject> objects, YamlMappingNode body, string source, int document, int line)
    {
        var kind = ManifestObject.TextOf(body, "kind");
        var apiVersion = ManifestObject.TextOf(body, "apiVersion");
        if (string.IsNullOrWhiteSpace(kind) || string.IsNullOrWhiteSpace(apiVersion))
        {
            var missing = string.IsNullOrWhiteSpace(kind) && string.IsNullOrWhiteSpace(apiVersion) ? "kind and apiVersion" : string.IsNullOrWhiteSpace(kind) ? "kind" : "apiVersion";
            throw new KubeDindException($"Deploy: {source}: document {document} (line {line}) has no {missing}; every manifest document needs both.");
        }

        if (kind.EndsWith("List", StringComparison.Ordinal) && ManifestObject.ValueOf(body, "items") is YamlSequenceNode items)
        {
            foreach (var item in items)
            {
                if (item is not YamlMappingNode itemBody)
                {
                    throw new KubeDindException($"Deploy: {source}: document {document} (line {line}) is a {kind} whose items are not all objects.");
                }

                AddObject(objects, itemBody, source, document, line);
            }

            return;
        }

        if (string.IsNullOrWhiteSpace(ManifestObject.TextOf(ManifestObject.ValueOf(body, "metadata"), "name")))
        {
            throw new KubeDindException($"Deploy: {source}: document {document} (line {line}): {kind} has no metadata.name; give every object a name (generateName cannot be re-applied).");
        }

        objects.Add(new ManifestObject(body, source, document, line));
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

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\): ")]
    private static partial Regex MarkPrefix();
}

/// <summary>A manifest file, or a kustomization file whose folder is rendered.</summary>
internal sealed record ManifestSource(string Path, bool IsKustomization);
