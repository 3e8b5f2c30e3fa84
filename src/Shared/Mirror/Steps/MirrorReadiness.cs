using Docker.DotNet;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Waiting;

namespace KubeDind.Mirror.Steps;

/// <summary>A registry in proxy mode exited because its upstream does not answer (registry 2.8 contacts it before serving).</summary>
internal sealed class UpstreamRefusedException(string message, string reason, string? details) : KubeDindException(message, details)
{
    /// <summary>The registry's own line saying why, e.g. <c>panic: Get "https://quay.io/v2/": dial tcp: lookup quay.io: no such host</c>.</summary>
    public string Reason { get; } = reason;
}

/// <summary>Step: wait until the registry answers <c>/v2/</c> from the host, giving up at once when its container exits.</summary>
internal static class MirrorReadiness
{
    private const int LogTailLines = 30;

    public static async Task WaitAsync(MirrorStartContext context, string containerId, string hostUrl, CancellationToken cancellationToken)
    {
        var gate = new RegistryApiGate(hostUrl);

        // A registry that exits will not serve, however long we wait: the watcher ends the wait early.
        var restartsBefore = (await context.Docker.Containers.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false)).RestartCount;
        using var crashed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watcher = WatchForExitAsync(context, containerId, restartsBefore, crashed);
        try
        {
            await new ReadinessWaiter(context.Log).WaitAsync(
                context.Subject,
                [gate],
                context.Mirror.ReadinessTimeout,
                ct => DiagnosticsAsync(context.Docker, containerId, ct),
                crashed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var how = await watcher.ConfigureAwait(false) ?? "stopped";
            var details = await DiagnosticsAsync(context.Docker, containerId, CancellationToken.None).ConfigureAwait(false);
            throw UpstreamRefusal(context, details)
                ?? new KubeDindException($"{context.Subject}: the registry {how} instead of serving, so gate '{gate.Name}' cannot pass; see its log lines below.", details);
        }
        catch (KubeDindException ex) when (ex is not UpstreamRefusedException && UpstreamRefusal(context, ex.Details) is { } refused)
        {
            throw refused;
        }
        finally
        {
            await crashed.CancelAsync().ConfigureAwait(false);
            await watcher.ConfigureAwait(false);
        }
    }

    /// <summary>distribution 2.8 asks the upstream for its auth endpoints at startup and panics when it cannot.</summary>
    private static UpstreamRefusedException? UpstreamRefusal(MirrorStartContext context, string? details)
    {
        var panic = details?.Split('\n').FirstOrDefault(l => l.StartsWith("panic:", StringComparison.Ordinal) && l.Contains(context.Registry.Upstream, StringComparison.Ordinal));
        return panic is null
            ? null
            : new UpstreamRefusedException(
                $"{context.Subject}: the registry exits at startup because its upstream {context.Registry.Upstream} does not answer ({panic.Trim()}).",
                panic.Trim(),
                details);
    }

    /// <summary>Polls the container until it exits or restarts (then cancels <paramref name="crashed"/> and says which), or until cancelled.</summary>
    private static async Task<string?> WatchForExitAsync(MirrorStartContext context, string containerId, long restartsBefore, CancellationTokenSource crashed)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), crashed.Token).ConfigureAwait(false);
                var container = await context.Docker.Containers.InspectContainerAsync(containerId, crashed.Token).ConfigureAwait(false);
                var how = container.RestartCount > restartsBefore ? $"exited and was restarted {container.RestartCount - restartsBefore} times"
                    : container.State?.Running != true ? $"is {container.State?.Status} (exit code {container.State?.ExitCode})"
                    : container.State?.Restarting == true ? "exited and is restarting"
                    : null;
                if (how is not null)
                {
                    await crashed.CancelAsync().ConfigureAwait(false);
                    return how;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (DockerApiException ex)
        {
            context.Log.Debug($"{context.Subject}: cannot watch container {containerId[..12]} ({DockerEngine.FirstLine(ex)}); relying on the readiness timeout");
            return null;
        }
    }

    private static async Task<string?> DiagnosticsAsync(IDockerClient docker, string containerId, CancellationToken cancellationToken)
    {
        var container = await docker.Containers.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
        var state = container.State;
        var logs = await ContainerLogs.TailAsync(docker, containerId, LogTailLines, cancellationToken).ConfigureAwait(false);
        return $"container {container.Name.TrimStart('/')} ({containerId[..12]}): {state?.Status}, exit code {state?.ExitCode}, restarted {container.RestartCount} times; last {LogTailLines} log lines:\n{logs}";
    }
}
