using KubeDind.Docker;
using YamlDotNet.RepresentationModel;

namespace KubeDind.Deploy;

/// <summary>One container image in a manifest: where, what it was, and what it became.</summary>
public sealed record ImageUse(string Workload, string Container, string Original, string Final, ImageSource Source);

public enum ImageSource
{
    /// <summary>Rewritten by <see cref="DeploySettings.ImageRewrites"/>.</summary>
    Rewritten,

    /// <summary>Rewritten to (or already naming) an image pushed or loaded in this run.</summary>
    Pushed,

    /// <summary>Left as written: the cluster will pull it through the mirror, if it can.</summary>
    Unknown,
}

/// <summary>
/// Rewrites the images of every container list (containers, initContainers, ephemeralContainers)
/// anywhere in an object, so CronJobs and CRD instances with pod templates are covered too. Explicit
/// rewrites win over images pushed in this run.
/// </summary>
public sealed class ImageRewriter
{
    private static readonly string[] ContainerLists = ["containers", "initContainers", "ephemeralContainers"];
    private readonly IReadOnlyDictionary<string, string> _rewrites;
    private readonly IReadOnlyDictionary<string, string> _pushed;
    private readonly HashSet<string> _pushedTargets;

    public ImageRewriter(IReadOnlyDictionary<string, string> rewrites, IReadOnlyDictionary<string, string> pushed)
    {
        _rewrites = rewrites;
        _pushed = pushed;
        _pushedTargets = new HashSet<string>(pushed.Values, StringComparer.Ordinal);
    }

    /// <summary>Rewrites in place and returns every image use found.</summary>
    public IReadOnlyList<ImageUse> Rewrite(ManifestObject manifest)
    {
        var uses = new List<ImageUse>();
        Walk(manifest.Document, manifest.DisplayName, uses, new Dictionary<YamlScalarNode, ImageUse>(ReferenceEqualityComparer.Instance));
        return uses;
    }

    /// <summary>The reference <paramref name="image"/> becomes, and why.</summary>
    public (string Image, ImageSource Source) Resolve(string image)
    {
        if (Lookup(_rewrites, image) is { } rewritten)
        {
            return (rewritten, _pushedTargets.Contains(rewritten) ? ImageSource.Pushed : ImageSource.Rewritten);
        }

        if (Lookup(_pushed, image) is { } pushed)
        {
            return (pushed, ImageSource.Pushed);
        }

        return (image, _pushedTargets.Contains(image) ? ImageSource.Pushed : ImageSource.Unknown);
    }

    private static string? Lookup(IReadOnlyDictionary<string, string> map, string image)
    {
        if (map.TryGetValue(image, out var exact))
        {
            return exact;
        }

        // "web" in the manifest means "web:latest" to the runtime, so "web:latest" keys match it too.
        var (repository, tag) = ImageReference.SplitTag(image);
        if (tag.Length > 0 && map.TryGetValue($"{repository}:{tag}", out var tagged))
        {
            return tagged;
        }

        if (tag.Length > 0 && map.TryGetValue(repository, out var byRepository))
        {
            var target = ImageReference.SplitTag(byRepository);
            var targetHasTag = byRepository.Contains('@', StringComparison.Ordinal) || byRepository.LastIndexOf(':') > byRepository.LastIndexOf('/');
            return targetHasTag ? byRepository : $"{target.Repository}:{tag}";
        }

        return null;
    }

    private void Walk(YamlNode node, string workload, List<ImageUse> uses, Dictionary<YamlScalarNode, ImageUse> rewritten)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                foreach (var (key, value) in mapping.Children)
                {
                    if (key is YamlScalarNode { Value: { } name } && ContainerLists.Contains(name, StringComparer.Ordinal) && value is YamlSequenceNode containers)
                    {
                        foreach (var container in containers.OfType<YamlMappingNode>())
                        {
                            RewriteContainer(container, workload, uses, rewritten);
                        }
                    }
                    else
                    {
                        Walk(value, workload, uses, rewritten);
                    }
                }

                break;
            case YamlSequenceNode sequence:
                foreach (var item in sequence)
                {
                    Walk(item, workload, uses, rewritten);
                }

                break;
        }
    }

    /// <summary>
    /// Rewrites the container's image and every image it could merge in (<c>&lt;&lt;: *base</c>), so whichever the
    /// server's merge picks is rewritten; reports the container's own image, else the first merged one. An image
    /// reached again through an alias is the same node: it is reported again but rewritten once.
    /// </summary>
    private void RewriteContainer(YamlMappingNode container, string workload, List<ImageUse> uses, Dictionary<YamlScalarNode, ImageUse> rewritten)
    {
        var images = WithMerged(container).Select(m => ManifestObject.ValueOf(m, "image")).OfType<YamlScalarNode>().Where(i => i.Value is not null).ToList();
        var name = WithMerged(container).Select(m => ManifestObject.TextOf(m, "name")).FirstOrDefault(n => n is not null) ?? "?";
        for (var i = 0; i < images.Count; i++)
        {
            if (!rewritten.TryGetValue(images[i], out var use))
            {
                var (final, source) = Resolve(images[i].Value!);
                use = new ImageUse(workload, name, images[i].Value!, final, source);
                rewritten[images[i]] = use;
                images[i].Value = final;
            }

            if (i == 0)
            {
                uses.Add(use with { Container = name });
            }
        }
    }

    /// <summary>The mapping, then the mappings its merge key names (<c>&lt;&lt;: *a</c> or <c>&lt;&lt;: [*a, *b]</c>), depth first.</summary>
    private static IEnumerable<YamlMappingNode> WithMerged(YamlMappingNode mapping)
    {
        yield return mapping;
        var merged = ManifestObject.ValueOf(mapping, "<<") switch
        {
            YamlMappingNode one => [one],
            YamlSequenceNode many => many.OfType<YamlMappingNode>().ToList(),
            _ => new List<YamlMappingNode>(),
        };
        foreach (var source in merged.SelectMany(WithMerged))
        {
            yield return source;
        }
    }
}
