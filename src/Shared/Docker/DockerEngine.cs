using Docker.DotNet;

namespace KubeDind.Docker;

/// <summary>Connects to the Docker engine named by DOCKER_HOST, or the local socket, and checks that it answers.</summary>
public static class DockerEngine
{
    public static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Returns a client whose engine has answered a ping; throws a one-line error otherwise.</summary>
    public static Task<DockerClient> ConnectAsync(Uri? endpoint = null, CancellationToken cancellationToken = default) =>
        ConnectAsync(DockerEndpoint.Resolve(endpoint), cancellationToken);

    /// <summary>Returns a client whose engine has answered a ping; throws a one-line error otherwise.</summary>
    public static async Task<DockerClient> ConnectAsync(DockerEndpoint engine, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var endpoint = engine.Uri;
        if (endpoint.Scheme == "ssh")
        {
            throw new KubeDindException(
                $"Docker engine at {endpoint}: ssh:// is not supported by the Docker client KubeDind uses; forward the engine's port (ssh -L 2375:/var/run/docker.sock host) and set DOCKER_HOST=tcp://127.0.0.1:2375 with {DockerEndpoint.HostOverrideVariable}=<that host>.");
        }

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
