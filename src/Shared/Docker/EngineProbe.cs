using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace KubeDind.Docker;

/// <summary>
/// Learns about an engine where it runs, not from this machine's /proc (which describes another machine when the
/// engine is remote): <c>/info</c> for what it says about itself, and a short-lived probe container in the engine's
/// PID namespace for dockerd's capability bounding set.
/// </summary>
public static class EngineProbe
{
    public const string ProbeRole = "capability-probe";
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(30);

    // The lowest-numbered dockerd in the engine's PID namespace is the engine itself: dockerds inside containers it
    // runs (kube-dind clusters) start later and get higher numbers.
    private const string Script = "for p in $(ls /proc | grep -E '^[0-9]+$' | sort -n); do "
        + "if [ \"$(cat /proc/$p/comm 2>/dev/null)\" = dockerd ]; then grep '^CapBnd:' /proc/$p/status && exit 0; fi; done; "
        + "echo 'no dockerd in the engine PID namespace'; exit 3";

    /// <summary>What <c>/info</c> says about the engine, for the log: name, OS, kernel, and security options such as rootless.</summary>
    public static async Task<string> DescribeAsync(IDockerClient docker, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(docker);
        try
        {
            var info = await docker.System.GetSystemInfoAsync(cancellationToken).ConfigureAwait(false);
            var security = info.SecurityOptions is { Count: > 0 } options
                ? string.Join(", ", options.Select(o => o.Split(',')[0].Replace("name=", string.Empty, StringComparison.Ordinal)))
                : "none";
            return $"engine {info.Name}, {info.OperatingSystem}, kernel {info.KernelVersion}, security options {security}";
        }
        catch (DockerApiException ex)
        {
            return $"/info failed: {DockerEngine.FirstLine(ex)}";
        }
    }

    /// <summary>
    /// Runs <paramref name="image"/> (any image with /bin/sh on the engine) once with the engine's PID namespace and
    /// reads the engine's dockerd's CapBnd; null with the reason when it cannot.
    /// </summary>
    public static async Task<(ulong? Mask, string Why)> DockerdBoundingSetAsync(IDockerClient docker, string image, IDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(docker);
        string? id = null;
        try
        {
            var created = await docker.Containers.CreateContainerAsync(
                new CreateContainerParameters
                {
                    Image = image,
                    Entrypoint = ["/bin/sh", "-c", Script],
                    Cmd = [],
                    Labels = new Dictionary<string, string>(labels) { [KubeDindLabels.Role] = ProbeRole },
                    HostConfig = new HostConfig { PidMode = "host", NetworkMode = "none" },
                },
                cancellationToken).ConfigureAwait(false);
            id = created.ID;
            await docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), cancellationToken).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ProbeTimeout);
            await docker.Containers.WaitContainerAsync(id, timeout.Token).ConfigureAwait(false);
            var output = await ContainerLogs.TailAsync(docker, id, 5, cancellationToken).ConfigureAwait(false);
            var line = output.Split('\n').FirstOrDefault(l => l.StartsWith("CapBnd:", StringComparison.Ordinal));
            return line is not null && ulong.TryParse(line["CapBnd:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask)
                ? (mask, "read by a probe container in the engine's PID namespace")
                : (null, output.Split('\n')[0]);
        }
        catch (DockerApiException ex)
        {
            return (null, DockerEngine.FirstLine(ex));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"the probe did not finish within {ProbeTimeout.TotalSeconds:0} s");
        }
        finally
        {
            if (id is not null)
            {
                try
                {
                    await docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true }, CancellationToken.None).ConfigureAwait(false);
                }
                catch (DockerApiException)
                {
                }
            }
        }
    }
}
