using System.Formats.Tar;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace KubeDind.Docker;

/// <summary>Reads small files out of a container through the engine's archive API.</summary>
public static class ContainerFiles
{
    /// <summary>The text of <paramref name="path"/> inside the container, or null when the file (or container) is not there.</summary>
    public static async Task<string?> ReadTextAsync(IDockerClient docker, string containerId, string path, CancellationToken cancellationToken)
    {
        GetArchiveFromContainerResponse archive;
        try
        {
            archive = await docker.Containers.GetArchiveFromContainerAsync(containerId, new GetArchiveFromContainerParameters { Path = path }, statOnly: false, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerContainerNotFoundException)
        {
            return null;
        }
        catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        // Docker.DotNet's chunked response stream throws EndOfStreamException on the short reads
        // TarReader makes for an entry's data; plain full-buffer reads work, so copy the (small) archive first.
        using var buffer = new MemoryStream();
        await using (var stream = archive.Stream)
        {
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                buffer.Write(chunk, 0, read);
            }
        }

        buffer.Position = 0;
        using var reader = new TarReader(buffer);
        while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
        {
            if (entry.DataStream is not null)
            {
                using var text = new StreamReader(entry.DataStream);
                return await text.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        return null;
    }
}
