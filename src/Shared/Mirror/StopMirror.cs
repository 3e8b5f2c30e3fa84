using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Mirror;

/// <summary>What <see cref="StopMirror"/> did.</summary>
/// <param name="Name">The mirror's name as asked for.</param>
/// <param name="ContainerRemoved">True when at least one mirror container was removed.</param>
/// <param name="CacheVolumes">The cache volumes of the mirror's registries.</param>
/// <param name="CacheRemoved">True when they were removed.</param>
public sealed record MirrorStopResult(string Name, bool ContainerRemoved, IReadOnlyList<string> CacheVolumes, bool CacheRemoved);

/// <summary>
/// Stops and removes a mirror on request: every registry container StartMirror created under that mirror name (or
/// the one container with that exact name). Cache volumes stay unless <c>removeCache</c> is asked for; containers
/// and volumes KubeDind did not create are never touched.
/// </summary>
public sealed class StopMirror
{
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);
    private readonly KubeDindSession _session;

    public StopMirror(KubeDindSession session) => _session = session;

    public async Task<MirrorStopResult> RunAsync(string name, bool removeCache, CancellationToken cancellationToken)
    {
        var docker = _session.Docker;
        var containers = await FindContainersAsync(docker, name, cancellationToken).ConfigureAwait(false);
        var volumes = new List<string>();
        if (containers.Count == 0)
        {
            _session.Log.Info($"mirror {name}: no such container; nothing to stop");
        }

        foreach (var container in containers)
        {
            if (container.Mounts?.FirstOrDefault(m => m.Type == "volume" && m.Destination == MirrorImage.StoragePath)?.Name is { } volume)
            {
                volumes.Add(volume);
            }

            if (container.State?.Running == true)
            {
                await docker.Containers.StopContainerAsync(container.ID, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)StopGrace.TotalSeconds }, cancellationToken).ConfigureAwait(false);
            }

            await StartMirror.RemoveContainerAsync(docker, container.ID, cancellationToken).ConfigureAwait(false);
            _session.Log.Info($"mirror {container.Name.TrimStart('/')}: stopped and removed {container.ID[..12]}");
        }

        // Caches whose containers are already gone (killed and removed) are found by their labels.
        var labelled = await docker.Volumes.ListAsync(
            new VolumesListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{MirrorContainerSpec.MirrorNameLabel}={name}"] = true } } },
            cancellationToken).ConfigureAwait(false);
        volumes.AddRange(labelled.Volumes?.Where(v => KubeDindLabels.IsOwned(v.Labels)).Select(v => v.Name) ?? []);
        if (containers.Count == 0 && volumes.Count == 0)
        {
            volumes.Add(MirrorSettings.DefaultCacheVolume(name));
        }

        volumes = [.. volumes.Distinct(StringComparer.Ordinal)];
        if (!removeCache)
        {
            _session.Log.Info($"mirror {name}: the cache volumes {string.Join(", ", volumes)} stay for the next mirror");
            return new MirrorStopResult(name, containers.Count > 0, volumes, CacheRemoved: false);
        }

        var removed = false;
        foreach (var volume in volumes)
        {
            removed |= await RemoveVolumeAsync(docker, name, volume, cancellationToken).ConfigureAwait(false);
        }

        return new MirrorStopResult(name, containers.Count > 0, volumes, removed);
    }

    private async Task<bool> RemoveVolumeAsync(IDockerClient docker, string name, string volume, CancellationToken cancellationToken)
    {
        VolumeResponse found;
        try
        {
            found = await docker.Volumes.InspectAsync(volume, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            _session.Log.Info($"mirror {name}: no cache volume {volume} to remove");
            return false;
        }

        if (!KubeDindLabels.IsOwned(found.Labels))
        {
            throw new KubeDindException($"mirror {name}: the cache volume {volume} was not created by KubeDind (no {KubeDindLabels.Owner}={KubeDindLabels.OwnerValue} label); KubeDind does not remove it.");
        }

        try
        {
            await docker.Volumes.RemoveAsync(volume, force: false, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
        {
            throw new KubeDindException($"mirror {name}: the cache volume {volume} is still used by another container ({DockerEngine.FirstLine(ex)}); stop that container first.", inner: ex);
        }

        _session.Log.Info($"mirror {name}: removed the cache volume {volume}");
        return true;
    }

    private static async Task<List<ContainerInspectResponse>> FindContainersAsync(IDockerClient docker, string name, CancellationToken cancellationToken)
    {
        var found = new List<ContainerInspectResponse>();
        if (await DockerContainers.InspectOrNullAsync(docker, name, cancellationToken).ConfigureAwait(false) is { } exact)
        {
            if (!StartMirror.IsMirrorContainer(exact))
            {
                throw new KubeDindException($"mirror {name}: the container with that name was not created by KubeDind as a mirror (no {KubeDindLabels.Owner}={KubeDindLabels.OwnerValue} and {KubeDindLabels.Role}={StartMirror.Role} labels); KubeDind does not remove it.");
            }

            found.Add(exact);
        }

        var listed = await docker.Containers.ListContainersAsync(
            new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{MirrorContainerSpec.MirrorNameLabel}={name}"] = true } },
            },
            cancellationToken).ConfigureAwait(false);
        foreach (var container in listed.Where(c => found.All(f => f.ID != c.ID)))
        {
            if (await DockerContainers.InspectOrNullAsync(docker, container.ID, cancellationToken).ConfigureAwait(false) is { } inspected && StartMirror.IsMirrorContainer(inspected))
            {
                found.Add(inspected);
            }
        }

        return found;
    }
}
