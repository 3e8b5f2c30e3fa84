using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Mirror.Steps;

/// <summary>Steps on the registry's container: create it from <see cref="MirrorContainerSpec"/>, start it, remove it.</summary>
internal static class MirrorContainer
{
    public static async Task<string> CreateAsync(MirrorStartContext context, MirrorMode mode, int port, CancellationToken cancellationToken)
    {
        var parameters = MirrorContainerSpec.Create(context.Mirror, context.Registry, mode, context.Image, context.SettingsHash, port, context.NetworkId, context.Session.RunId);
        var created = await context.Docker.Containers.CreateContainerAsync(parameters, cancellationToken).ConfigureAwait(false);
        var what = mode == MirrorMode.Proxy ? $"caching {context.Registry.Upstream}" : "serving its cache only";
        var credentials = mode == MirrorMode.Proxy && context.Registry.CredentialsSource is { } source ? $", with credentials from {source}" : string.Empty;
        context.Log.Info($"{context.Subject}: created {created.ID[..12]} from {context.Image}, {what} in volume {context.Registry.CacheVolume}{credentials}, on {context.Mirror.HostUrlHost}:{port}");
        return created.ID;
    }

    public static async Task StartAsync(MirrorStartContext context, string id, int port, CancellationToken cancellationToken)
    {
        try
        {
            await context.Docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (DockerContainers.IsPortConflict(ex))
        {
            throw PortTaken(context, port, ex);
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"{context.Subject}: the engine cannot start it ({DockerEngine.FirstLine(ex)}).", inner: ex);
        }
    }

    /// <summary>
    /// Removes a mirror container. RemoveVolumes drops only its anonymous volumes (other VOLUMEs of a custom
    /// image), which would otherwise leak on every recreation; the engine never removes the named cache volume this way.
    /// </summary>
    public static Task RemoveAsync(IDockerClient docker, string id, CancellationToken cancellationToken) =>
        docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken);

    /// <summary>After a failed start or restart: the container goes (with restart policy always it would restart forever); its cache stays.</summary>
    public static async Task RemoveFailedAsync(MirrorStartContext context, string id)
    {
        try
        {
            await RemoveAsync(context.Docker, id, CancellationToken.None).ConfigureAwait(false);
            context.Log.Info($"{context.Subject}: removed the container that did not become ready; the cache volume {context.Registry.CacheVolume} stays");
        }
        catch (DockerApiException ex)
        {
            context.Log.Warn($"{context.Subject}: could not remove the container that did not become ready ({DockerEngine.FirstLine(ex)}); StopMirrorAsync removes it");
        }
    }

    public static KubeDindException PortTaken(MirrorStartContext context, int port, Exception? inner = null) => new(
        $"{context.Subject}: host port {port} on {context.Mirror.Address} is already in use; free it or set MirrorRegistry.HostPort for {context.Registry.Host} to another port (0 picks a free one).",
        inner: inner);
}
