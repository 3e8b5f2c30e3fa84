using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Mirror;
using KubeDind.Networking;

namespace KubeDind.BuildTool;

/// <summary>
/// What a run leaves on the engine: a snapshot of the engine's containers, volumes, images and networks before the
/// run, and after it the ones that are new and are not what KubeDind keeps between builds by design (the mirrors and
/// their caches, saved cluster states, the layer store, the shared network, and the base, mirror and cluster images it reuses).
/// </summary>
internal static class EngineLeftovers
{
    /// <summary>Repositories of the images KubeDind builds once and reuses in later builds.</summary>
    private static readonly string[] KeptImages = [ClusterImage.Repository + ":", BaseImage.LocalTag, BaseImage.UpstreamTag, MirrorImage.LocalRepository + ":", MirrorImage.UpstreamTag];

    public static async Task<int> SnapshotAsync(IDockerClient docker, string file, CancellationToken cancellationToken)
    {
        var resources = await ListAsync(docker, cancellationToken);
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(resources.Select(r => r.Key).ToArray()), cancellationToken);
        Console.WriteLine($"engine: {resources.Count} containers, volumes, images and networks before the run ({file})");
        return 0;
    }

    public static async Task<int> CheckAsync(IDockerClient docker, string file, CancellationToken cancellationToken)
    {
        var before = File.Exists(file) ? JsonSerializer.Deserialize<string[]>(await File.ReadAllTextAsync(file, cancellationToken))!.ToHashSet() : [];
        var left = (await ListAsync(docker, cancellationToken)).Where(r => !before.Contains(r.Key) && !r.Kept).ToList();

        foreach (var resource in left)
        {
            Console.WriteLine($"engine: left behind: {resource.Description}");
        }

        Console.WriteLine(left.Count == 0
            ? "engine: nothing left behind beyond the mirrors, their caches, saved cluster states, the layer store and KubeDind's reusable images"
            : $"engine: {left.Count} resources left behind (listed above); remove them with docker rm/volume rm/rmi and fix what made them");
        return left.Count == 0 ? 0 : 1;
    }

    /// <summary>Removes the images tagged <paramref name="tags"/> (a missing one is not an error), with their untagged parents.</summary>
    public static async Task<int> RemoveImagesAsync(IDockerClient docker, IEnumerable<string> tags, CancellationToken cancellationToken)
    {
        foreach (var tag in tags)
        {
            try
            {
                await docker.Images.DeleteImageAsync(tag, new ImageDeleteParameters(), cancellationToken);
                Console.WriteLine($"engine: removed image {tag}");
            }
            catch (DockerImageNotFoundException)
            {
                // not built in this run
            }
            catch (DockerApiException ex)
            {
                Console.Error.WriteLine($"error: image {tag} could not be removed: {DockerEngine.FirstLine(ex)}");
                return 1;
            }
        }

        return 0;
    }

    private sealed record Resource(string Key, string Description, bool Kept);

    private static async Task<List<Resource>> ListAsync(IDockerClient docker, CancellationToken cancellationToken)
    {
        var resources = new List<Resource>();
        foreach (var container in await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true }, cancellationToken))
        {
            var name = container.Names.FirstOrDefault()?.TrimStart('/') ?? container.ID[..12];
            resources.Add(new Resource("container:" + container.ID, $"container {name} ({container.Image}, {container.State})", RoleOf(container.Labels) == MirrorContainerSpec.Role));
        }

        foreach (var volume in (await docker.Volumes.ListAsync(cancellationToken)).Volumes ?? [])
        {
            var role = RoleOf(volume.Labels);
            resources.Add(new Resource("volume:" + volume.Name, $"volume {volume.Name}{(role is null ? string.Empty : $" (role {role})")}", role is MirrorContainerSpec.CacheRole or ClusterStateStore.Role or LayerStoreSettings.Role));
        }

        foreach (var image in await docker.Images.ListImagesAsync(new ImagesListParameters { All = false }, cancellationToken))
        {
            var tags = (image.RepoTags ?? []).Where(t => t != "<none>:<none>").ToList();
            var kept = tags.Count > 0 && tags.All(t => KeptImages.Any(k => t.StartsWith(k, StringComparison.Ordinal)));
            // An untagged image says when it was made and its labels: that names the build that left it.
            var description = tags.Count > 0
                ? $"image {string.Join(", ", tags)} ({image.ID[7..19]})"
                : $"image <untagged> ({image.ID[7..19]}, created {image.Created:HH:mm:ss}, labels {string.Join(" ", (image.Labels ?? new Dictionary<string, string>()).Select(l => $"{l.Key}={l.Value}"))})";
            resources.Add(new Resource("image:" + image.ID, description, kept));
        }

        foreach (var network in await docker.Networks.ListNetworksAsync(cancellationToken: cancellationToken))
        {
            resources.Add(new Resource("network:" + network.ID, $"network {network.Name}", network.Name is "bridge" or "host" or "none" || RoleOf(network.Labels) == KubeDindNetwork.Role));
        }

        return resources;
    }

    private static string? RoleOf(IDictionary<string, string>? labels) =>
        labels is not null && labels.TryGetValue(KubeDindLabels.Role, out var role) ? role : null;
}
