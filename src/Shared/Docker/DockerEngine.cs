using Docker.DotNet;

namespace KubeDind.Docker;

/// <summary>Connects to the Docker engine named by DOCKER_HOST, or the local socket, and checks that it answers.</summary>
public static class DockerEngine
{
    public static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(10);

    public static Uri DefaultEndpoint()
    {
        var dockerHost = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (!string.IsNullOrWhiteSpace(dockerHost))
        {
            if (!Uri.TryCreate(dockerHost, UriKind.Absolute, out var uri))
            {
                throw new KubeDindException($"DOCKER_HOST='{dockerHost}' is not a URI; set it like unix:///var/run/docker.sock or tcp://host:2375, or unset it.");
            }

            return uri;
        }

        return OperatingSystem.IsWindows()
            ? new Uri("npipe://./pipe/docker_engine")
            : new Uri("unix:///var/run/docker.sock");
    }

    /// <summary>Returns a client whose engine has answered a ping; throws a one-line error otherwise.</summary>
    public static async Task<DockerClient> ConnectAsync(Uri? endpoint = null, CancellationToken cancellationToken = default)
    {
        endpoint ??= DefaultEndpoint();
        var client = new DockerClientConfiguration(endpoint, defaultTimeout: TimeSpan.FromMinutes(30)).CreateClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(PingTimeout);
        try
        {
            await client.System.PingAsync(timeout.Token).ConfigureAwait(false);
            return client;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            var reason = ex is OperationCanceledException ? $"no answer within {PingTimeout.TotalSeconds:0}s" : FirstLine(ex);
            throw new KubeDindException(
                $"Docker engine at {endpoint} does not answer ({reason}); start Docker (the repo's build does: build/scripts/ensure-docker.sh) or point DOCKER_HOST at a running engine.",
                inner: ex);
        }
    }

    internal static string FirstLine(Exception ex)
    {
        var message = ex is DockerApiException api ? api.ResponseBody : ex.Message;
        if (string.IsNullOrWhiteSpace(message))
        {
            message = ex.Message;
        }

        var line = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? ex.GetType().Name;
        return line.Trim('{', '}', ' ').Replace("\"message\":", string.Empty, StringComparison.Ordinal).Trim('"', ' ');
    }
}
