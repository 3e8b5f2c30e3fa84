using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Networking;
using KubeDind.Waiting;

namespace KubeDind.Mirror;

/// <summary>
/// Step 1: the host-side registry mirror. Reuses a running mirror with the same name and settings as it is,
/// recreates one whose settings changed (the cache volume stays), creates it otherwise; it joins the shared
/// kubedind network under its name and is ready once <c>/v2/</c> answers from the host.
/// </summary>
public sealed class StartMirror
{
    public const string Role = "mirror";
    public const string CacheRole = "mirror-cache";
    public const string UpstreamLabel = "io.kubedind.mirror.upstream";
    private const int LogTailLines = 30;
    private static readonly string PortKey = $"{MirrorImage.Port}/tcp";

    private readonly KubeDindSession _session;

    public StartMirror(KubeDindSession session) => _session = session;

    private IDockerClient Docker => _session.Docker;

    private IKubeDindLog Log => _session.Log;

    public async Task<MirrorEndpoints> RunAsync(MirrorSettings settings, CancellationToken cancellationToken)
    {
        var valid = Validate(settings);
        var image = await new MirrorImage(_session).EnsureAsync(settings.Image, cancellationToken).ConfigureAwait(false);
        var imageId = (await Docker.Images.InspectImageAsync(image, cancellationToken).ConfigureAwait(false)).ID;
        var settingsHash = SettingsHash(valid, imageId);
        var networkId = await KubeDindNetwork.EnsureAsync(_session, KubeDindNetwork.DefaultName, cancellationToken).ConfigureAwait(false);

        // A second pass covers another process creating the same mirror between our look-up and our create.
        for (var attempt = 1; ; attempt++)
        {
            var existing = await DockerContainers.InspectOrNullAsync(Docker, valid.Name, cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                if (!IsMirrorContainer(existing))
                {
                    throw new KubeDindException(
                        $"mirror {valid.Name}: a container with that name exists but was not created by KubeDind as a mirror (no {KubeDindLabels.Owner}={KubeDindLabels.OwnerValue} and {KubeDindLabels.Role}={Role} labels); KubeDind leaves it alone: remove or rename it yourself, or set MirrorSettings.Name to another name.");
                }

                var sameSettings = existing.Config!.Labels.TryGetValue(KubeDindLabels.SettingsHash, out var hash) && hash == settingsHash;
                if (sameSettings)
                {
                    return await ReuseAsync(existing, valid, networkId, cancellationToken).ConfigureAwait(false);
                }

                var what = existing.Config.Labels.TryGetValue(UpstreamLabel, out var oldUpstream) && oldUpstream != valid.Upstream
                    ? $"upstream {oldUpstream} -> {valid.Upstream}"
                    : existing.Image != imageId ? $"image -> {image}" : "settings";
                Log.Info($"mirror {valid.Name}: {what} changed; recreating it (the cache volume {valid.CacheVolume} stays)");
                await RemoveContainerAsync(Docker, existing.ID, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                return await CreateAsync(valid, image, settingsHash, networkId, cancellationToken).ConfigureAwait(false);
            }
            catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict && attempt == 1)
            {
                Log.Debug($"mirror {valid.Name}: created by someone else meanwhile ({DockerEngine.FirstLine(ex)}); looking again");
            }
        }
    }

    private async Task<MirrorEndpoints> ReuseAsync(ContainerInspectResponse existing, ValidSettings valid, string networkId, CancellationToken cancellationToken)
    {
        if (existing.State?.Running != true)
        {
            Log.Info($"mirror {valid.Name}: exists with the same settings but is {existing.State?.Status ?? "not running"}; starting it");
            await StartContainerAsync(existing.ID, valid, PublishedPort(existing) ?? valid.RequestedPort, cancellationToken).ConfigureAwait(false);
            existing = await Docker.Containers.InspectContainerAsync(existing.ID, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            Log.Info($"mirror {valid.Name}: reusing the running container {existing.ID[..12]} (same settings)");
        }

        await KubeDindNetwork.ConnectAsync(Docker, networkId, existing.ID, [valid.Name], cancellationToken).ConfigureAwait(false);
        var port = PublishedPort(existing) ?? throw new KubeDindException(
            $"mirror {valid.Name}: the container publishes no host port for {PortKey}; remove it (StopMirrorAsync) and start the mirror again.");
        var endpoints = Endpoints(existing.ID, valid, port, reused: true);
        await WaitReadyAsync(endpoints, valid, cancellationToken).ConfigureAwait(false);
        return endpoints;
    }

    private async Task<MirrorEndpoints> CreateAsync(ValidSettings valid, string image, string settingsHash, string networkId, CancellationToken cancellationToken)
    {
        int port;
        if (valid.RequestedPort != 0)
        {
            port = valid.RequestedPort;
            if (HostPorts.IsTaken(valid.Address, port))
            {
                throw PortTaken(valid, port);
            }
        }
        else
        {
            // Chosen here rather than by the engine so the port stays the same across engine restarts.
            port = HostPorts.FindFree(valid.Address);
        }

        await EnsureCacheVolumeAsync(valid.CacheVolume, cancellationToken).ConfigureAwait(false);

        var labels = KubeDindLabels.ForResource(Role, _session.RunId);
        labels[KubeDindLabels.SettingsHash] = settingsHash;
        labels[UpstreamLabel] = valid.Upstream;
        var created = await Docker.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Name = valid.Name,
                Image = image,
                Env = [$"{MirrorImage.ProxyRemoteUrlVariable}={valid.Upstream}"],
                Labels = labels,
                ExposedPorts = new Dictionary<string, EmptyStruct> { [PortKey] = default },
                HostConfig = new HostConfig
                {
                    PortBindings = new Dictionary<string, IList<PortBinding>>
                    {
                        [PortKey] = [new PortBinding { HostIP = valid.Address.ToString(), HostPort = port.ToString(CultureInfo.InvariantCulture) }],
                    },
                    RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.Always },
                    Mounts = [new Mount { Type = "volume", Source = valid.CacheVolume, Target = MirrorImage.StoragePath }],
                    NetworkMode = KubeDindNetwork.DefaultName,

                    // The mirror runs for weeks and logs every request.
                    LogConfig = new LogConfig { Type = "json-file", Config = new Dictionary<string, string> { ["max-size"] = "10m", ["max-file"] = "2" } },
                },
                NetworkingConfig = new NetworkingConfig
                {
                    EndpointsConfig = new Dictionary<string, EndpointSettings>
                    {
                        [KubeDindNetwork.DefaultName] = new EndpointSettings { NetworkID = networkId, Aliases = [valid.Name] },
                    },
                },
            },
            cancellationToken).ConfigureAwait(false);
        Log.Info($"mirror {valid.Name}: created {created.ID[..12]} from {image}, caching {valid.Upstream} in volume {valid.CacheVolume}, on {valid.HostUrlHost}:{port}");

        var endpoints = Endpoints(created.ID, valid, port, reused: false);
        try
        {
            await StartContainerAsync(created.ID, valid, port, cancellationToken).ConfigureAwait(false);
            await WaitReadyAsync(endpoints, valid, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // A mirror that never became ready would otherwise restart forever (restart policy always).
            await RemoveQuietlyAsync(created.ID, valid).ConfigureAwait(false);
            throw;
        }

        return endpoints;
    }

    private async Task StartContainerAsync(string id, ValidSettings valid, int port, CancellationToken cancellationToken)
    {
        try
        {
            await Docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (DockerContainers.IsPortConflict(ex))
        {
            throw PortTaken(valid, port, ex);
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"mirror {valid.Name}: the engine cannot start it ({DockerEngine.FirstLine(ex)}).", inner: ex);
        }
    }

    private async Task WaitReadyAsync(MirrorEndpoints endpoints, ValidSettings valid, CancellationToken cancellationToken)
    {
        var gate = new RegistryApiGate(endpoints.HostUrl);
        var subject = $"mirror {valid.Name}";

        // A registry that exits will not serve, however long we wait: the watcher ends the wait early.
        var restartsBefore = (await Docker.Containers.InspectContainerAsync(endpoints.ContainerId, cancellationToken).ConfigureAwait(false)).RestartCount;
        using var crashed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watcher = WatchForExitAsync(endpoints.ContainerId, restartsBefore, crashed);
        try
        {
            await new ReadinessWaiter(Log).WaitAsync(
                subject,
                [gate],
                valid.ReadinessTimeout,
                ct => DiagnosticsAsync(endpoints.ContainerId, ct),
                crashed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            var how = await watcher.ConfigureAwait(false) ?? "stopped";
            var details = await DiagnosticsAsync(endpoints.ContainerId, CancellationToken.None).ConfigureAwait(false);
            throw UpstreamRefused(details, valid.Upstream)
                ? UpstreamUnreachable(valid, details)
                : new KubeDindException($"{subject}: the registry {how} instead of serving, so gate '{gate.Name}' cannot pass; see its log lines below.", details);
        }
        catch (KubeDindException ex) when (UpstreamRefused(ex.Details, valid.Upstream))
        {
            throw UpstreamUnreachable(valid, ex.Message + "\n" + ex.Details, ex);
        }
        finally
        {
            await crashed.CancelAsync().ConfigureAwait(false);
            await watcher.ConfigureAwait(false);
        }
    }

    /// <summary>Polls the container until it exits or restarts (then cancels <paramref name="crashed"/> and says which), or until cancelled.</summary>
    private async Task<string?> WatchForExitAsync(string containerId, long restartsBefore, CancellationTokenSource crashed)
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), crashed.Token).ConfigureAwait(false);
                var container = await Docker.Containers.InspectContainerAsync(containerId, crashed.Token).ConfigureAwait(false);
                var how = container.RestartCount > restartsBefore ? $"exited and was restarted {container.RestartCount - restartsBefore} times"
                    : container.State?.Running != true ? $"is {container.State?.Status} (exit code {container.State?.ExitCode})"
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
            Log.Debug($"mirror: cannot watch container {containerId[..12]} ({DockerEngine.FirstLine(ex)}); relying on the readiness timeout");
            return null;
        }
    }

    // distribution 2.8 asks the upstream for its auth endpoints at startup and panics when it cannot.
    private static MirrorUpstreamUnreachableException UpstreamUnreachable(ValidSettings valid, string? details, Exception? inner = null) => new(
        $"mirror {valid.Name}: the registry exits at startup because its upstream {valid.Upstream} does not answer (registry 2.8 contacts it before serving); check MirrorSettings.UpstreamUrl and that the mirror can reach it.",
        details,
        inner);

    private static bool UpstreamRefused(string? details, string upstream) =>
        details is not null
        && details.Contains("panic:", StringComparison.Ordinal)
        && details.Contains(upstream, StringComparison.Ordinal);

    private async Task<string?> DiagnosticsAsync(string containerId, CancellationToken cancellationToken)
    {
        var container = await Docker.Containers.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
        var state = container.State;
        var logs = await ContainerLogs.TailAsync(Docker, containerId, LogTailLines, cancellationToken).ConfigureAwait(false);
        return $"container {container.Name.TrimStart('/')} ({containerId[..12]}): {state?.Status}, exit code {state?.ExitCode}, restarted {container.RestartCount} times; last {LogTailLines} log lines:\n{logs}";
    }

    private async Task EnsureCacheVolumeAsync(string volume, CancellationToken cancellationToken)
    {
        try
        {
            await Docker.Volumes.InspectAsync(volume, cancellationToken).ConfigureAwait(false);
            Log.Debug($"mirror cache volume {volume}: exists; keeping its content");
            return;
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
        }

        try
        {
            await Docker.Volumes.CreateAsync(
                new VolumesCreateParameters { Name = volume, Labels = KubeDindLabels.ForResource(CacheRole, _session.RunId) },
                cancellationToken).ConfigureAwait(false);
            Log.Info($"mirror cache volume {volume}: created");
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"mirror cache volume '{volume}' cannot be created ({DockerEngine.FirstLine(ex)}); set MirrorSettings.CacheVolume to a valid volume name.", inner: ex);
        }
    }

    private async Task RemoveQuietlyAsync(string id, ValidSettings valid)
    {
        try
        {
            await RemoveContainerAsync(Docker, id, CancellationToken.None).ConfigureAwait(false);
            Log.Info($"mirror {valid.Name}: removed the container that did not become ready; the cache volume {valid.CacheVolume} stays");
        }
        catch (DockerApiException ex)
        {
            Log.Warn($"mirror {valid.Name}: could not remove the container that did not become ready ({DockerEngine.FirstLine(ex)}); StopMirrorAsync removes it");
        }
    }

    /// <summary>
    /// Removes a mirror container. RemoveVolumes drops only its anonymous volumes (other VOLUMEs of a custom
    /// image), which would otherwise leak on every recreation; the engine never removes the named cache volume this way.
    /// </summary>
    internal static Task RemoveContainerAsync(IDockerClient docker, string id, CancellationToken cancellationToken) =>
        docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, cancellationToken);

    /// <summary>
    /// True for containers StartMirror created. The owner label alone is not proof: containers inherit their
    /// image's labels, and KubeDind's own images carry it.
    /// </summary>
    internal static bool IsMirrorContainer(ContainerInspectResponse container) =>
        KubeDindLabels.IsOwned(container.Config?.Labels)
        && container.Config!.Labels.TryGetValue(KubeDindLabels.Role, out var role) && role == Role;

    private static MirrorEndpoints Endpoints(string containerId, ValidSettings valid, int port, bool reused) => new(
        containerId,
        valid.Name,
        $"http://{valid.HostUrlHost}:{port.ToString(CultureInfo.InvariantCulture)}",
        $"http://{valid.Name}:{MirrorImage.Port.ToString(CultureInfo.InvariantCulture)}",
        KubeDindNetwork.DefaultName,
        reused);

    private static int? PublishedPort(ContainerInspectResponse container)
    {
        IList<PortBinding>? bindings = null;
        if (container.NetworkSettings?.Ports?.TryGetValue(PortKey, out var live) == true && live is { Count: > 0 })
        {
            bindings = live;
        }
        else if (container.HostConfig?.PortBindings?.TryGetValue(PortKey, out var configured) == true)
        {
            bindings = configured;
        }

        return bindings?.Select(b => int.TryParse(b.HostPort, NumberStyles.None, CultureInfo.InvariantCulture, out var p) ? p : 0).FirstOrDefault(p => p > 0) is > 0 and var port
            ? port
            : null;
    }

    private static KubeDindException PortTaken(ValidSettings valid, int port, Exception? inner = null) => new(
        $"mirror {valid.Name}: host port {port} on {valid.Address} is already in use; free it or set MirrorSettings.HostPort to another port (0 picks a free one).",
        inner: inner);

    /// <summary>Hash of everything that shapes the container; a different hash means the mirror must be recreated.</summary>
    private static string SettingsHash(ValidSettings valid, string imageId)
    {
        var text = string.Join(
            '\n',
            valid.Name,
            valid.Upstream,
            valid.Address.ToString(),
            valid.RequestedPort.ToString(CultureInfo.InvariantCulture),
            valid.CacheVolume,
            imageId,
            KubeDindNetwork.DefaultName);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();
    }

    internal static ValidSettings Validate(MirrorSettings settings)
    {
        DockerContainers.ValidateName("mirror", settings.Name);

        if (!Uri.TryCreate(settings.UpstreamUrl, UriKind.Absolute, out var upstream)
            || (upstream.Scheme != Uri.UriSchemeHttp && upstream.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(upstream.Host)
            || !string.IsNullOrEmpty(upstream.Query)
            || !string.IsNullOrEmpty(upstream.Fragment)
            || !string.IsNullOrEmpty(upstream.UserInfo))
        {
            throw new KubeDindException($"mirror upstream URL '{settings.UpstreamUrl}' is not an absolute http(s) registry URL; set MirrorSettings.UpstreamUrl like {MirrorSettings.DockerHub}.");
        }

        if (!IPAddress.TryParse(settings.HostAddress, out var address))
        {
            throw new KubeDindException($"mirror host address '{settings.HostAddress}' is not an IP address; set MirrorSettings.HostAddress like 127.0.0.1.");
        }

        if (settings.HostPort is < 0 or > 65535)
        {
            throw new KubeDindException($"mirror host port {settings.HostPort} is out of range; set MirrorSettings.HostPort between 1 and 65535, or 0 for a free port.");
        }

        var cacheVolume = settings.CacheVolumeName;
        if (!DockerContainers.IsValidName(cacheVolume))
        {
            throw new KubeDindException($"mirror cache volume '{cacheVolume}' is not a valid volume name; use letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }

        if (settings.ReadinessTimeout <= TimeSpan.Zero)
        {
            throw new KubeDindException($"mirror readiness timeout {settings.ReadinessTimeout} is not positive; set MirrorSettings.ReadinessTimeout to, say, 60 seconds.");
        }

        // What the host uses to reach a mirror published on every address.
        var urlHost = address.Equals(IPAddress.Any) ? "127.0.0.1"
            : address.Equals(IPAddress.IPv6Any) ? "[::1]"
            : address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]"
            : address.ToString();

        return new ValidSettings(
            settings.Name,
            upstream.GetLeftPart(UriPartial.Path).TrimEnd('/'),
            address,
            settings.HostPort,
            urlHost,
            cacheVolume,
            settings.ReadinessTimeout);
    }

    internal sealed record ValidSettings(
        string Name,
        string Upstream,
        IPAddress Address,
        int RequestedPort,
        string HostUrlHost,
        string CacheVolume,
        TimeSpan ReadinessTimeout);
}
