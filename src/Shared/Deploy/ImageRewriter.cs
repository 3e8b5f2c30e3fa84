using System.Text.Json.Nodes;
using KubeDind.Docker;

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
        Walk(manifest.Body, manifest.DisplayName, uses);
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

    private void Walk(JsonNode? node, string workload, List<ImageUse> uses)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (ContainerLists.Contains(key, StringComparer.Ordinal) && value is JsonArray containers)
                    {
                        foreach (var container in containers.OfType<JsonObject>())
                        {
                            if (container["image"] is JsonValue v && v.TryGetValue<string>(out var image))
                            {
                                var (final, source) = Resolve(image);
                                container["image"] = final;
                                uses.Add(new ImageUse(workload, (string?)container["name"] ?? "?", image, final, source));
                            }
                        }
                    }
                    else
                    {
                        Walk(value, workload, uses);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Walk(item, workload, uses);
                }

                break;
        }
    }
}
