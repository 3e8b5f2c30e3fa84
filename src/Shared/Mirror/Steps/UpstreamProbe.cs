using Docker.DotNet;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Mirror.Steps;

/// <summary>
/// Step, for a running cache-only mirror: does its upstream answer now? Asked from inside the mirror's container,
/// which sees the network the registry would use (an upstream may be a name only the kubedind network resolves).
/// A TCP connection is the test: a registry that then still refuses to start sends the mirror back to cache-only.
/// </summary>
internal static class UpstreamProbe
{
    private const int TimeoutSeconds = 5;

    // bash's /dev/tcp in the Debian-built image; busybox nc in registry:2 (Alpine).
    private const string Script =
        "if command -v bash >/dev/null 2>&1; then exec timeout \"$3\" bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' \"$1\" \"$2\"; fi; exec nc -z -w \"$3\" \"$1\" \"$2\"";

    public static async Task<bool> AnswersAsync(MirrorStartContext context, string containerId, CancellationToken cancellationToken)
    {
        var upstream = new Uri(context.Registry.Upstream);
        try
        {
            var result = await ContainerExec.RunAsync(
                context.Docker,
                containerId,
                ["sh", "-c", Script, "probe", upstream.IdnHost, upstream.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), TimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)],
                cancellationToken: cancellationToken).ConfigureAwait(false);
            context.Log.Debug($"{context.Subject}: upstream {upstream.IdnHost}:{upstream.Port} {(result.Succeeded ? "accepts connections" : $"does not answer ({result.FirstErrorLine})")}");
            return result.Succeeded;
        }
        catch (DockerApiException ex)
        {
            // Cannot tell: trying the pull-through cache again is the answer that cannot strand the mirror.
            context.Log.Debug($"{context.Subject}: cannot probe the upstream from the container ({DockerEngine.FirstLine(ex)}); trying pull-through mode");
            return true;
        }
    }
}
