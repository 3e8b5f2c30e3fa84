using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Mirror;

/// <summary>What <see cref="StopMirror"/> did.</summary>
public sealed record MirrorStopResult(string Name, bool ContainerRemoved, string CacheVolume, bool CacheRemoved);

/// <summary>
/// Stops and removes a mirror on request. Its cache volume stays unless <c>removeCache</c> is asked for;
/// containers and volumes KubeDind did not create are never touched.
/// </summary>
public sealed class StopMirror
{
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);
    private readonly KubeDindSession _session;

    public StopMirror(KubeDindSession session) => _session = session;

    public async Task<MirrorStopResult> RunAsync(string name, bool removeCache, CancellationToken cancellationToken)
    {
        var docker = _session.Docker;
        var cacheVolume = MirrorSettings.DefaultCacheVolume(name);
        var containerRemoved = false;

        ContainerInspectResponse? container = null;
        try
        {
            container = await docker.Containers.InspectContainerAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            _session.Log.Info($"mirror {name}: no such container; nothing to stop");
        }

        if (container is not null)
        {
            if (!KubeDindLabels.IsOwned(container.Config?.Labels))
            {
                throw new KubeDindException($"mirror {name}: the container with that name was not created by KubeDind (no {KubeDindLabels.Owner}={KubeDindLabels.OwnerValue} label); KubeDind does not remove it.");
            }

            cacheVolume = container.Mounts?.FirstOrDefault(m => m.Type == "volume" && m.Destination == MirrorImage.StoragePath)?.Name ?? cacheVolume;
            if (container.State?.Running == true)
            {
                await docker.Containers.StopContainerAsync(container.ID, new ContainerStopParameters { WaitBeforeKillSeconds = (uint)StopGrace.TotalSeconds }, cancellationToken).ConfigureAwait(false);
            }

            await docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = false }, cancellationToken).ConfigureAwait(false);
            containerRemoved = true;
            _session.Log.Info($"mirror {name}: stopped and removed {container.ID[..12]}");
        }

        if (!removeCache)
        {
            _session.Log.Info($"mirror {name}: the cache volume {cacheVolume} stays for the next mirror");
            return new MirrorStopResult(name, containerRemoved, cacheVolume, CacheRemoved: false);
        }

        VolumeResponse volume;
        try
        {
            volume = await docker.Volumes.InspectAsync(cacheVolume, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            _session.Log.Info($"mirror {name}: no cache volume {cacheVolume} to remove");
            return new MirrorStopResult(name, containerRemoved, cacheVolume, CacheRemoved: false);
        }

        if (!KubeDindLabels.IsOwned(volume.Labels))
        {
            throw new KubeDindException($"mirror {name}: the cache volume {cacheVolume} was not created by KubeDind (no {KubeDindLabels.Owner}={KubeDindLabels.OwnerValue} label); KubeDind does not remove it.");
        }

        try
        {
            await docker.Volumes.RemoveAsync(cacheVolume, force: false, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
        {
            throw new KubeDindException($"mirror {name}: the cache volume {cacheVolume} is still used by another container ({DockerEngine.FirstLine(ex)}); stop that container first.", inner: ex);
        }

        _session.Log.Info($"mirror {name}: removed the cache volume {cacheVolume}");
        return new MirrorStopResult(name, containerRemoved, cacheVolume, CacheRemoved: true);
    }
}
