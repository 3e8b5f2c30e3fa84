using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// Creates and starts the cluster container privileged, and where the engine refuses that (Auto) removes it and
/// starts the unprivileged fallback instead, remembering the refusal for the rest of the session. A container
/// that does not start is removed.
/// </summary>
internal sealed class PrivilegedStarter(KubeDindSession session)
{
    // What engines say when they will not run a privileged container: a plain 500 or 403 whose text (from dockerd, an
    // authorization plugin or rootless mode) is all that tells it apart; the API has no code for it.
    private static readonly string[] RefusalMarkers =
    [
        "unable to apply caps",
        "privileged mode is disabled",
        "privileged containers are not allowed",
        "privileged mode is not allowed",
        "privileged containers are disabled",
    ];

    /// <summary>
    /// The capabilities a local engine's dockerd cannot grant (read from this machine's /proc, cheap), which a privileged
    /// container is given all of: runc then refuses it ("unable to apply caps"). Knowing that up front saves a start
    /// the first try per session: a container created, a warm state copied into it, refused, removed. Null when all are
    /// there, unreadable (dockerd not visible here), or the engine is remote (learning its set costs a probe container;
    /// the attempt tells as much).
    /// </summary>
    private async Task<string?> LackedCapabilitiesAsync(CancellationToken cancellationToken)
    {
        if (!session.Engine.IsLocal)
        {
            return null;
        }

        var lacking = await EngineCapabilities.LackedByLocalDockerdAsync(cancellationToken).ConfigureAwait(false);
        return lacking is { Count: > 0 } ? string.Join(", ", lacking) : null;
    }

    /// <summary>True when the engine refused to start a container because it is privileged (retry with Fallback).</summary>
    public static bool IsPrivilegeRefusal(DockerApiException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var text = exception.ResponseBody + "\n" + exception.Message;
        return RefusalMarkers.Any(marker => text.Contains(marker, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Creates and starts the container; <paramref name="prepare"/> runs on each created container before it starts.</summary>
    public async Task<(string ContainerId, PrivilegeMode Mode)> StartAsync(ClusterContainerSpec spec, Func<string, CancellationToken, Task>? prepare, CancellationToken cancellationToken)
    {
        prepare ??= (_, _) => Task.CompletedTask;
        var name = spec.Name;
        var mode = spec.Settings.Privilege;
        if (mode == PrivilegeMode.Auto && session.PrivilegedRefused)
        {
            session.Log.Debug($"cluster {name}: the engine refused --privileged earlier in this session; using the fallback");
            mode = PrivilegeMode.Fallback;
        }

        if (mode == PrivilegeMode.Auto && await LackedCapabilitiesAsync(cancellationToken).ConfigureAwait(false) is { } lacking)
        {
            session.PrivilegedRefused = true;
            session.Log.Warn($"cluster {name}: the engine refuses --privileged (dockerd's capability bounding set lacks {lacking}, which a privileged container needs; not tried); running with the unprivileged fallback instead (all capabilities the engine grants, unconfined seccomp/AppArmor, private cgroup namespace). Set Privilege = Fallback to say so yourself.");
            mode = PrivilegeMode.Fallback;
        }

        var first = mode == PrivilegeMode.Auto ? PrivilegeMode.Privileged : mode;
        var id = await CreateAsync(spec, first, cancellationToken).ConfigureAwait(false);
        try
        {
            await prepare(id, cancellationToken).ConfigureAwait(false);
            await PrepareAsync(spec, id, cancellationToken).ConfigureAwait(false);
            await StartContainerAsync(name, id, rethrowRefusal: mode == PrivilegeMode.Auto, cancellationToken).ConfigureAwait(false);
            return (id, first);
        }
        catch (DockerApiException ex) when (mode == PrivilegeMode.Auto && IsPrivilegeRefusal(ex))
        {
            await Teardown.RemoveContainerAsync(session, id, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            session.PrivilegedRefused = true;
            session.Log.Warn($"cluster {name}: the engine refuses --privileged ({DockerEngine.FirstLine(ex)}); running with the unprivileged fallback instead (all capabilities the engine grants, unconfined seccomp/AppArmor, private cgroup namespace). Set Privilege = Fallback to skip this attempt.");
        }
        catch (Exception)
        {
            await Teardown.RemoveContainerAsync(session, id, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        id = await CreateAsync(spec, PrivilegeMode.Fallback, cancellationToken).ConfigureAwait(false);
        try
        {
            await prepare(id, cancellationToken).ConfigureAwait(false);
            await PrepareAsync(spec, id, cancellationToken).ConfigureAwait(false);
            await StartContainerAsync(name, id, rethrowRefusal: false, cancellationToken).ConfigureAwait(false);
            return (id, PrivilegeMode.Fallback);
        }
        catch (Exception)
        {
            await Teardown.RemoveContainerAsync(session, id, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>k3s's settings files (and the air-gap images) go into the created container before it starts.</summary>
    private async Task PrepareAsync(ClusterContainerSpec spec, string id, CancellationToken cancellationToken)
    {
        if (spec.Settings.Kubernetes)
        {
            await K3sConfigurationFiles.CopyIntoAsync(session.Docker, spec.Name, id, spec.Settings with { K3sArgs = spec.K3sArguments }, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task StartContainerAsync(string name, string id, bool rethrowRefusal, CancellationToken cancellationToken)
    {
        try
        {
            await session.Docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (!rethrowRefusal || !IsPrivilegeRefusal(ex))
        {
            var line = DockerEngine.FirstLine(ex);
            if (DockerContainers.IsPortConflict(ex))
            {
                throw new KubeDindException($"cluster {name}: a host port is taken ({line}); choose other ports in ClusterSettings, or 0 for free ones.", inner: ex);
            }

            if (IsPrivilegeRefusal(ex))
            {
                throw new KubeDindException($"cluster {name}: the engine refuses --privileged ({line}); use Privilege = Auto or Fallback (without --privileged).", inner: ex);
            }

            throw new KubeDindException($"cluster {name}: the engine cannot start the container: {line}", inner: ex);
        }
    }

    private async Task<string> CreateAsync(ClusterContainerSpec spec, PrivilegeMode mode, CancellationToken cancellationToken)
    {
        var capabilities = mode == PrivilegeMode.Fallback ? await EngineCapabilities.ReadAsync(session, spec.Image, cancellationToken).ConfigureAwait(false) : null;
        try
        {
            var created = await session.Docker.Containers.CreateContainerAsync(spec.ToParameters(mode, capabilities), cancellationToken).ConfigureAwait(false);
            session.Log.Debug($"cluster {spec.Name}: created container {created.ID[..12]} ({mode.ToString().ToLowerInvariant()})");
            return created.ID;
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
        {
            throw new KubeDindException($"cluster name '{spec.Name}' is already used by another container; choose another Name.", inner: ex);
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"cluster {spec.Name}: the engine cannot create the container: {DockerEngine.FirstLine(ex)}", inner: ex);
        }
    }
}
