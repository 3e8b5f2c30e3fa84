using KubeDind.Docker;

namespace KubeDind.Mirror.Steps;

/// <summary>Step: the container already under the registry's name, refusing one KubeDind did not create as a mirror.</summary>
internal static class FindExistingMirror
{
    public static async Task RunAsync(MirrorStartContext context, CancellationToken cancellationToken)
    {
        var existing = await DockerContainers.InspectOrNullAsync(context.Docker, context.Registry.ContainerName, cancellationToken).ConfigureAwait(false);
        if (existing is not null && !MirrorContainerSpec.IsMirrorContainer(existing))
        {
            throw new KubeDindException(
                $"{context.Subject}: a container with that name exists but was not created by KubeDind as a mirror (no {KubeDindLabels.Owner}={KubeDindLabels.OwnerValue} and {KubeDindLabels.Role}={MirrorContainerSpec.Role} labels); KubeDind leaves it alone: remove or rename it yourself, or set MirrorSettings.Name to another name.");
        }

        context.Existing = existing;
    }
}
