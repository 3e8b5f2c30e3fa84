using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Mirror.Steps;

/// <summary>Step: the registry's cache volume, created when missing; and its removal when the start that created it fails.</summary>
internal static class MirrorCacheVolume
{
    public static async Task EnsureAsync(MirrorStartContext context, CancellationToken cancellationToken)
    {
        var volume = context.Registry.CacheVolume;
        try
        {
            await context.Docker.Volumes.InspectAsync(volume, cancellationToken).ConfigureAwait(false);
            context.Log.Debug($"{context.Subject}: cache volume {volume} exists; keeping its content");
            return;
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
        }

        try
        {
            await context.Docker.Volumes.CreateAsync(
                new VolumesCreateParameters { Name = volume, Labels = MirrorContainerSpec.VolumeLabels(context.Mirror, context.Registry) },
                cancellationToken).ConfigureAwait(false);
            context.VolumeCreated = true;
            context.Log.Info($"{context.Subject}: created the cache volume {volume}");
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"{context.Subject}: cache volume '{volume}' cannot be created ({DockerEngine.FirstLine(ex)}); set MirrorRegistry.CacheVolume to a valid volume name.", inner: ex);
        }
    }

    /// <summary>
    /// After a failed start: removes the cache volume if this start created it. Such a volume holds nothing, since no
    /// registry on it ever answered; a volume that existed before the call is never touched.
    /// </summary>
    public static async Task RemoveIfCreatedAsync(MirrorStartContext context)
    {
        if (!context.VolumeCreated)
        {
            return;
        }

        var volume = context.Registry.CacheVolume;
        try
        {
            await context.Docker.Volumes.RemoveAsync(volume, force: false, CancellationToken.None).ConfigureAwait(false);
            context.VolumeCreated = false;
            context.Log.Info($"{context.Subject}: removed the cache volume {volume} this start created, which holds nothing");
        }
        catch (DockerApiException ex)
        {
            context.Log.Warn($"{context.Subject}: could not remove the empty cache volume {volume} this start created ({DockerEngine.FirstLine(ex)}); StopMirrorAsync with removeCache removes it");
        }
    }
}
