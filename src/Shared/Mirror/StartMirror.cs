using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Mirror.Steps;
using KubeDind.Networking;

namespace KubeDind.Mirror;

/// <summary>
/// Step 1: the host-side registry mirrors, one per upstream registry, started side by side. Each reuses a running
/// mirror with the same settings, recreates one whose settings changed (the cache volume stays), creates it
/// otherwise; it joins the shared kubedind network under its name and is ready once <c>/v2/</c> answers from the
/// host. A registry whose upstream does not answer runs cache-only; a failed start leaves nothing restarting.
/// </summary>
public sealed class StartMirror
{
    public const string Role = MirrorContainerSpec.Role;
    public const string CacheRole = MirrorContainerSpec.CacheRole;
    public const string UpstreamLabel = MirrorContainerSpec.UpstreamLabel;

    private readonly KubeDindSession _session;

    public StartMirror(KubeDindSession session) => _session = session;

    public async Task<KubeDindMirror> RunAsync(MirrorSettings settings, CancellationToken cancellationToken)
    {
        var startedAt = DateTimeOffset.UtcNow;
        // Where the engine publishes the mirrors and the host this build reaches them at (a remote engine's, say).
        var publishing = HostPorts.Choose(_session.Engine, settings.HostAddress, "MirrorSettings.HostAddress", $"mirror {settings.Name}");
        if (publishing.Warning is not null)
        {
            _session.Log.Warn(publishing.Warning);
        }

        var valid = MirrorValidator.Validate(settings with { HostAddress = publishing.BindAddress }) with { HostUrlHost = publishing.UrlHost };
        var image = await new MirrorImage(_session).EnsureAsync(settings.Image, cancellationToken).ConfigureAwait(false);
        var imageId = (await _session.Docker.Images.InspectImageAsync(image, cancellationToken).ConfigureAwait(false)).ID;
        var networkId = await KubeDindNetwork.EnsureAsync(_session, KubeDindNetwork.DefaultName, cancellationToken).ConfigureAwait(false);
        var ports = new PortReservations();

        var starts = valid.Registries
            .Select(r => new MirrorStartContext(_session, valid, r, image, imageId, networkId, ports))
            .Select(c => (Context: c, Task: StartRegistryAsync(c, cancellationToken)))
            .ToList();
        try
        {
            await Task.WhenAll(starts.Select(s => s.Task)).ConfigureAwait(false);
        }
        catch (Exception) when (starts.Any(s => s.Task.IsFaulted) && !cancellationToken.IsCancellationRequested)
        {
            var failures = starts.Where(s => s.Task.IsFaulted).Select(s => s.Task.Exception!.InnerException!).ToList();
            foreach (var other in failures.Skip(1))
            {
                _session.Log.Error(other.Message);
            }

            var first = failures[0];
            if (failures.Count == 1)
            {
                throw first.Rethrow();
            }

            throw new KubeDindException(
                $"{first.Message.TrimEnd('.')} (and {failures.Count - 1} more mirror failures, logged above).",
                (first as KubeDindException)?.Details,
                first);
        }

        var endpoints = starts.Select(s => s.Task.Result).ToList();
        var cacheOnly = starts.Where(s => s.Task.Result.CacheOnly).ToList();
        if (cacheOnly.Count > 0)
        {
            _session.Log.Warn(
                $"mirror {valid.Name}: the upstream of {string.Join(", ", cacheOnly.Select(s => s.Context.Registry.Host))} does not answer, so "
                + $"{(cacheOnly.Count == 1 ? "that mirror serves" : "those mirrors serve")} its cache only (images it does not hold cannot be pulled through it) until a later start finds the upstream again; "
                + $"first reason: {cacheOnly[0].Context.UpstreamUnreachable ?? "no connection"}");
        }

        return new KubeDindMirror(valid.Name, endpoints, startedAt, _session.Docker);
    }

    private static async Task<MirrorEndpoints> StartRegistryAsync(MirrorStartContext context, CancellationToken cancellationToken)
    {
        // A second pass covers another process creating the same mirror between our look-up and our create.
        for (var attempt = 1; ; attempt++)
        {
            await FindExistingMirror.RunAsync(context, cancellationToken).ConfigureAwait(false);
            if (context.Existing is { } existing)
            {
                context.PreviousPort = MirrorContainerSpec.PublishedPort(existing);
                var sameSettings = existing.Config!.Labels.TryGetValue(KubeDindLabels.SettingsHash, out var hash) && hash == context.SettingsHash;
                if (sameSettings && await ReuseAsync(context, existing, cancellationToken).ConfigureAwait(false) is { } reused)
                {
                    return reused;
                }

                if (!sameSettings)
                {
                    var what = existing.Config.Labels.TryGetValue(UpstreamLabel, out var oldUpstream) && oldUpstream != context.Registry.Upstream
                        ? $"upstream {oldUpstream} -> {context.Registry.Upstream}"
                        : "settings";
                    context.Log.Info($"{context.Subject}: {what} changed; recreating it (the cache volume {context.Registry.CacheVolume} stays)");
                    await MirrorContainer.RemoveAsync(context.Docker, existing.ID, cancellationToken).ConfigureAwait(false);
                }
            }

            try
            {
                return await CreateAsync(context, cancellationToken).ConfigureAwait(false);
            }
            catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict && attempt == 1)
            {
                context.Log.Debug($"{context.Subject}: created by someone else meanwhile ({DockerEngine.FirstLine(ex)}); looking again");
            }
        }
    }

    /// <summary>The existing container with the same settings, running and ready; null when it had to go and a new one is needed.</summary>
    private static async Task<MirrorEndpoints?> ReuseAsync(MirrorStartContext context, ContainerInspectResponse existing, CancellationToken cancellationToken)
    {
        var mode = MirrorContainerSpec.ModeOf(existing);
        var running = existing.State?.Running == true && existing.State?.Restarting != true;
        try
        {
            if (mode == MirrorMode.CacheOnly)
            {
                if (running && !await UpstreamProbe.AnswersAsync(context, existing.ID, cancellationToken).ConfigureAwait(false))
                {
                    context.UpstreamUnreachable = $"{context.Registry.Upstream} still does not accept connections";
                    return await ReadyAsync(context, existing, MirrorMode.CacheOnly, reused: true, cancellationToken).ConfigureAwait(false);
                }

                context.Log.Info($"{context.Subject}: {(running ? "its upstream answers again" : "cache-only and not running")}; starting it as a pull-through cache");
                await MirrorContainer.RemoveAsync(context.Docker, existing.ID, cancellationToken).ConfigureAwait(false);
                return null;
            }

            if (running)
            {
                context.Log.Info($"{context.Subject}: reusing the running container {existing.ID[..12]} (same settings)");
            }
            else
            {
                context.Log.Info($"{context.Subject}: exists with the same settings but is {existing.State?.Status ?? "not running"}; starting it");
            }

            if (existing.State?.Running != true)
            {
                await MirrorContainer.StartAsync(context, existing.ID, context.PreviousPort ?? context.Registry.RequestedPort, cancellationToken).ConfigureAwait(false);
                existing = await context.Docker.Containers.InspectContainerAsync(existing.ID, cancellationToken).ConfigureAwait(false);
            }

            return await ReadyAsync(context, existing, MirrorMode.Proxy, reused: running, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeDindException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // A restart that fails ends like a failed first start: the container goes, the cache stays.
            await MirrorContainer.RemoveFailedAsync(context, existing.ID).ConfigureAwait(false);
            if (ex is UpstreamRefusedException refused)
            {
                context.UpstreamUnreachable = refused.Reason;
                return null;
            }

            throw;
        }
    }

    private static async Task<MirrorEndpoints> CreateAsync(MirrorStartContext context, CancellationToken cancellationToken)
    {
        await MirrorCacheVolume.EnsureAsync(context, cancellationToken).ConfigureAwait(false);
        try
        {
            if (context.UpstreamUnreachable is null)
            {
                try
                {
                    return await CreateAndStartAsync(context, MirrorMode.Proxy, cancellationToken).ConfigureAwait(false);
                }
                catch (UpstreamRefusedException refused)
                {
                    context.UpstreamUnreachable = refused.Reason;
                    context.Log.Info($"{context.Subject}: {refused.Message} Starting it on its cache alone.");
                }
            }

            return await CreateAndStartAsync(context, MirrorMode.CacheOnly, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not DockerApiException { StatusCode: HttpStatusCode.Conflict })
        {
            await MirrorCacheVolume.RemoveIfCreatedAsync(context).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<MirrorEndpoints> CreateAndStartAsync(MirrorStartContext context, MirrorMode mode, CancellationToken cancellationToken)
    {
        int port;
        if (context.Registry.RequestedPort != 0)
        {
            port = context.Registry.RequestedPort;
            if (HostPorts.IsTaken(context.Mirror.Address, port))
            {
                throw MirrorContainer.PortTaken(context, port);
            }
        }
        else
        {
            // Chosen here rather than by the engine so the port stays the same across engine restarts.
            port = context.Ports.Reserve(context.Mirror.Address, context.PreviousPort);
        }

        var id = await MirrorContainer.CreateAsync(context, mode, port, cancellationToken).ConfigureAwait(false);
        context.PreviousPort = port;
        try
        {
            await MirrorContainer.StartAsync(context, id, port, cancellationToken).ConfigureAwait(false);
            var endpoints = context.Endpoints(id, port, reused: false, mode);
            await MirrorReadiness.WaitAsync(context, id, endpoints.HostUrl, cancellationToken).ConfigureAwait(false);
            return endpoints;
        }
        catch
        {
            // A mirror that never became ready would otherwise restart forever (restart policy always).
            await MirrorContainer.RemoveFailedAsync(context, id).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<MirrorEndpoints> ReadyAsync(MirrorStartContext context, ContainerInspectResponse container, MirrorMode mode, bool reused, CancellationToken cancellationToken)
    {
        await KubeDindNetwork.ConnectAsync(context.Docker, context.NetworkId, container.ID, [context.Registry.ContainerName], cancellationToken).ConfigureAwait(false);
        var port = MirrorContainerSpec.PublishedPort(container) ?? throw new KubeDindException(
            $"{context.Subject}: the container publishes no host port for {MirrorContainerSpec.PortKey}; remove it (StopMirrorAsync) and start the mirror again.");
        var endpoints = context.Endpoints(container.ID, port, reused, mode);
        await MirrorReadiness.WaitAsync(context, container.ID, endpoints.HostUrl, cancellationToken).ConfigureAwait(false);
        return endpoints;
    }

    /// <summary>True for containers StartMirror created (the owner label alone is not proof: containers inherit their image's labels).</summary>
    internal static bool IsMirrorContainer(ContainerInspectResponse container) => MirrorContainerSpec.IsMirrorContainer(container);

    internal static Task RemoveContainerAsync(IDockerClient docker, string id, CancellationToken cancellationToken) =>
        MirrorContainer.RemoveAsync(docker, id, cancellationToken);
}

internal static class ExceptionExtensions
{
    /// <summary>Rethrows keeping the original stack trace.</summary>
    public static Exception Rethrow(this Exception exception)
    {
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(exception).Throw();
        return exception;
    }
}
