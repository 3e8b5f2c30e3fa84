using System.Globalization;
using Docker.DotNet;
using KubeDind.Diagnostics;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// A cluster whose container stopped, or one of whose components (k3s, the inner dockerd, the registry) died,
/// fails the next step at once, in one line naming the dead part and a diagnostics directory with its logs,
/// instead of a step timing out against a daemon that will never answer.
/// </summary>
public sealed partial class KubeDindCluster
{
    /// <summary>
    /// Throws a one-line <see cref="KubeDindException"/> when the container is not running or a component has died;
    /// costs one inspect and one small exec, so every step calls it first.
    /// </summary>
    internal async Task EnsureAliveAsync(string step, CancellationToken cancellationToken)
    {
        ThrowIfTornDown();
        string? dead;
        try
        {
            var inspect = await Session.Docker.Containers.InspectContainerAsync(ContainerId, cancellationToken).ConfigureAwait(false);
            dead = inspect.State is { Running: true }
                ? await DeadComponentAsync(cancellationToken).ConfigureAwait(false)
                : $"its container is {inspect.State?.Status ?? "not running"} (exit code {inspect.State?.ExitCode.ToString(CultureInfo.InvariantCulture) ?? "?"})";
        }
        catch (DockerContainerNotFoundException)
        {
            throw new KubeDindException($"cluster {Name}: {step} cannot run: its container is gone (removed outside KubeDind); start a new cluster.");
        }

        if (dead is null)
        {
            return;
        }

        var directory = await WriteComponentLogsAsync(CancellationToken.None).ConfigureAwait(false);
        throw new KubeDindException(
            $"cluster {Name}: {step} cannot run: {dead}; logs in {directory}; tear the cluster down and start a new one.",
            $"diagnostics directory: {directory}");
    }

    private readonly HashSet<string> _mirrorProblemsReported = new(StringComparer.Ordinal);

    /// <summary>
    /// Warns (once per problem) when a KubeDind mirror this cluster pulls through is stopped, gone or full. The
    /// runtime then goes to the upstream itself, or fails offline, in its own words; this line names the mirror
    /// and the fix. Mirror hosts that are not KubeDind mirror containers (a company mirror) are not checked.
    /// </summary>
    internal async Task WarnAboutBrokenMirrorsAsync(CancellationToken cancellationToken)
    {
        var hosts = Settings.RegistryMirrors.Values.SelectMany(urls => urls)
            .Select(url => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Host : null)
            .OfType<string>()
            .Distinct(StringComparer.OrdinalIgnoreCase);

        // Side by side: each mirror costs an inspect, an exec and a log read, one after the other about a second for
        // the five default mirrors, on every Deploy and Job.
        var problems = await Task.WhenAll(hosts.Select(host => MirrorProblemAsync(host, cancellationToken))).ConfigureAwait(false);
        foreach (var problem in problems.OfType<string>().Where(_mirrorProblemsReported.Add))
        {
            Session.Log.Warn($"cluster {Name}: images it pulls through this mirror go to their upstream directly, or fail offline: {problem}");
        }
    }

    /// <summary>
    /// Runs <paramref name="step"/> (a Deploy, a Job) while the mirrors are looked at, rather than after: the look only
    /// warns, and a broken mirror's warning still comes before the step returns or throws.
    /// </summary>
    internal async Task<T> BesideMirrorWarningsAsync<T>(Func<Task<T>> step, CancellationToken cancellationToken)
    {
        var warnings = WarnAboutBrokenMirrorsAsync(cancellationToken);
        try
        {
            return await step().ConfigureAwait(false);
        }
        finally
        {
            await warnings.ConfigureAwait(false);
        }
    }

    /// <summary>What is wrong with the mirror container <paramref name="host"/>; null when nothing is, or it cannot be looked at (it only warns).</summary>
    private async Task<string?> MirrorProblemAsync(string host, CancellationToken cancellationToken)
    {
        try
        {
            var container = await DockerContainers.InspectOrNullAsync(Session.Docker, host, cancellationToken).ConfigureAwait(false);
            return container is not null && Mirror.MirrorContainerSpec.IsMirrorContainer(container)
                ? await new Mirror.MirrorCheck(Session).DescribeAsync(host, container, cancellationToken).ConfigureAwait(false)
                : null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Session.Log.Debug($"cluster {Name}: could not look at mirror {host}: {ex.Message.Split('\n')[0]}");
            return null;
        }
    }

    /// <summary>"its dockerd died (exited with code 137)" when the entrypoint recorded a failure, else null.</summary>
    private async Task<string?> DeadComponentAsync(CancellationToken cancellationToken)
    {
        // An exec, not the archive API: the engine's archive API does not see into the container's /run tmpfs.
        var result = await ContainerExec.RunAsync(Session.Docker, ContainerId, ["cat", ImageStatus.Path], cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? ImageStatus.Parse(result.StandardOutput, Image).Death : null;
    }

    /// <summary>Writes the container's and each component's log into a new diagnostics directory (owner-only) and returns it.</summary>
    internal async Task<string> WriteComponentLogsAsync(CancellationToken cancellationToken)
    {
        var directory = Path.GetFullPath(Path.Combine(Settings.ArtifactsDirectory, Name, "diagnostics-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss-fff", CultureInfo.InvariantCulture)));
        try
        {
            PrivateFiles.CreateDirectory(directory);
            foreach (var (component, text) in await ReadComponentLogsAsync(cancellationToken).ConfigureAwait(false))
            {
                await PrivateFiles.WriteTextAsync(Path.Combine(directory, component + ".log"), Redaction.Redact(text), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DockerApiException)
        {
            Session.Log.Warn($"cluster {Name}: could not write its logs to {directory}: {ex.Message.Split('\n')[0]}");
        }

        return directory;
    }
}
