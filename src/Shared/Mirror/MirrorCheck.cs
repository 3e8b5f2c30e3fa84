using System.Globalization;
using Docker.DotNet.Models;
using KubeDind.Docker;

namespace KubeDind.Mirror;

/// <summary>
/// Says in one line what is wrong with a mirror, or null when nothing is: missing, not running (killed, crashed),
/// or its cache volume full. Pulls through a broken mirror fail inside engines with their own words; this names
/// the mirror resource and what to do, without touching the cache.
/// </summary>
public sealed class MirrorCheck(KubeDindSession session)
{
    /// <summary>Below this much free space (KiB) the cache counts as full: a layer rarely fits any more.</summary>
    private const long FullBelowKib = 1024;

    public async Task<string?> RunAsync(string name, CancellationToken cancellationToken)
    {
        var container = await DockerContainers.InspectOrNullAsync(session.Docker, name, cancellationToken).ConfigureAwait(false);
        return container is null
            ? $"mirror {name}: there is no such container; StartMirror creates it (an existing cache volume is reused)."
            : await DescribeAsync(name, container, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The same for a mirror container already inspected.</summary>
    internal async Task<string?> DescribeAsync(string name, ContainerInspectResponse container, CancellationToken cancellationToken)
    {
        var docker = session.Docker;
        var volume = container.Mounts?.FirstOrDefault(m => m.Destination == MirrorImage.StoragePath)?.Name ?? "(none)";
        if (container.State?.Running != true)
        {
            return $"mirror {name}: its container is {container.State?.Status ?? "not running"} (exit code {container.State?.ExitCode.ToString(CultureInfo.InvariantCulture) ?? "?"}); StartMirror starts it again, keeping the cache volume {volume}.";
        }

        var df = await ContainerExec.RunAsync(docker, container.ID, ["df", "-Pk", MirrorImage.StoragePath], cancellationToken: cancellationToken).ConfigureAwait(false);
        var fields = df.Succeeded ? df.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Split(' ', StringSplitOptions.RemoveEmptyEntries) : null;
        long? available = fields is { Length: >= 4 } && long.TryParse(fields[3], CultureInfo.InvariantCulture, out var free) ? free : null;
        long? total = fields is { Length: >= 4 } && long.TryParse(fields[1], CultureInfo.InvariantCulture, out var size) ? size : null;
        var log = await ContainerLogs.TailAsync(docker, container.ID, 200, cancellationToken).ConfigureAwait(false);
        var noSpace = log.Contains("no space left on device", StringComparison.OrdinalIgnoreCase);
        if (available < FullBelowKib || noSpace)
        {
            return $"mirror {name}: its cache volume {volume} is full ({available?.ToString(CultureInfo.InvariantCulture) ?? "?"} KiB free of {total?.ToString(CultureInfo.InvariantCulture) ?? "?"} KiB); "
                + "nothing new is cached any more (pulls pass through to the upstream, or fail without it), cached images are still served. Give the mirror a bigger volume (MirrorRegistry.CacheVolume) or free space on the one it has.";
        }

        return null;
    }
}
