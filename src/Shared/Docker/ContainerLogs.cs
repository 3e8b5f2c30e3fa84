using Docker.DotNet;
using Docker.DotNet.Models;

namespace KubeDind.Docker;

public static class ContainerLogs
{
    /// <summary>The container's last <paramref name="lines"/> lines of stdout and stderr, or a note saying why there are none.</summary>
    public static async Task<string> TailAsync(IDockerClient docker, string containerId, int lines, CancellationToken cancellationToken)
    {
        try
        {
            using var stream = await docker.Containers.GetContainerLogsAsync(
                containerId,
                tty: false,
                new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Tail = lines.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                cancellationToken).ConfigureAwait(false);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(cancellationToken).ConfigureAwait(false);
            var text = (stdout + stderr).TrimEnd();
            return text.Length == 0 ? "(the container logged nothing)" : text;
        }
        catch (DockerApiException ex)
        {
            return $"(no logs: {DockerEngine.FirstLine(ex)})";
        }
    }

    /// <summary>The tail under a heading naming it: "last N lines of the &lt;what&gt;'s log:" (exception details).</summary>
    public static async Task<string> TailSectionAsync(IDockerClient docker, string containerId, string what, int lines, CancellationToken cancellationToken) =>
        $"last {lines} lines of the {what}'s log:\n{await TailAsync(docker, containerId, lines, cancellationToken).ConfigureAwait(false)}";
}
