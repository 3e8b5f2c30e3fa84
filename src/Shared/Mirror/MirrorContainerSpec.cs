using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Networking;

namespace KubeDind.Mirror;

/// <summary>How a registry's mirror serves: as a pull-through cache of its upstream, or from its cache alone.</summary>
internal enum MirrorMode
{
    Proxy,
    CacheOnly,
}

/// <summary>Every fact of one registry's mirror container, in one block; pure, so what is created is what is read here.</summary>
internal static class MirrorContainerSpec
{
    public const string Role = "mirror";
    public const string CacheRole = "mirror-cache";
    public const string UpstreamLabel = "io.kubedind.mirror.upstream";
    public const string RegistryLabel = "io.kubedind.mirror.registry";
    public const string MirrorNameLabel = "io.kubedind.mirror.name";
    public const string ModeLabel = "io.kubedind.mirror.mode";
    public const string ProxyMode = "proxy";
    public const string CacheOnlyMode = "cache-only";
    public static readonly string PortKey = $"{MirrorImage.Port}/tcp";

    public static CreateContainerParameters Create(
        ValidMirror mirror,
        ValidRegistry registry,
        MirrorMode mode,
        string image,
        string settingsHash,
        int hostPort,
        string networkId,
        string runId)
    {
        var labels = KubeDindLabels.ForResource(Role, runId);
        labels[KubeDindLabels.SettingsHash] = settingsHash;
        labels[UpstreamLabel] = registry.Upstream;
        labels[RegistryLabel] = registry.Host;
        labels[MirrorNameLabel] = mirror.Name;
        labels[ModeLabel] = mode == MirrorMode.Proxy ? ProxyMode : CacheOnlyMode;

        // Cache-only is the same registry without proxy settings: it serves the repositories already on the volume.
        // Credentials live only in the container's configuration (its environment), never in a file or a log.
        List<string> env = [$"{MirrorImage.LogFormatterVariable}={MirrorImage.LogFormatter}"];
        if (mode == MirrorMode.Proxy)
        {
            env.Add($"{MirrorImage.ProxyRemoteUrlVariable}={registry.Upstream}");
        }

        if (mode == MirrorMode.Proxy && registry.Credentials is { } credentials)
        {
            env.Add($"{MirrorImage.ProxyUsernameVariable}={credentials.Username}");
            env.Add($"{MirrorImage.ProxyPasswordVariable}={credentials.Password}");
        }

        return new CreateContainerParameters
        {
            Name = registry.ContainerName,
            Image = image,
            Env = env,
            Labels = labels,
            ExposedPorts = new Dictionary<string, EmptyStruct> { [PortKey] = default },
            HostConfig = new HostConfig
            {
                PortBindings = new Dictionary<string, IList<PortBinding>>
                {
                    [PortKey] = [new PortBinding { HostIP = mirror.Address.ToString(), HostPort = hostPort.ToString(CultureInfo.InvariantCulture) }],
                },
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.Always },
                Mounts = [new Mount { Type = "volume", Source = registry.CacheVolume, Target = MirrorImage.StoragePath }],
                NetworkMode = KubeDindNetwork.DefaultName,

                // The mirror runs for weeks and logs every request.
                LogConfig = new LogConfig { Type = "json-file", Config = new Dictionary<string, string> { ["max-size"] = "10m", ["max-file"] = "2" } },
            },
            NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings>
                {
                    [KubeDindNetwork.DefaultName] = new EndpointSettings { NetworkID = networkId, Aliases = [registry.ContainerName] },
                },
            },
        };
    }

    /// <summary>The labels of the cache volume a start creates.</summary>
    public static IDictionary<string, string> VolumeLabels(ValidMirror mirror, ValidRegistry registry)
    {
        var labels = KubeDindLabels.ForShared(CacheRole);
        labels[MirrorNameLabel] = mirror.Name;
        labels[RegistryLabel] = registry.Host;
        return labels;
    }

    /// <summary>Hash of everything that shapes the container but its mode; a different hash means the mirror must be recreated.</summary>
    public static string SettingsHash(ValidMirror mirror, ValidRegistry registry, string imageId)
    {
        // The credentials enter only as a hash of a hash: changing them recreates the mirror, and the label shows nothing of them.
        var credentials = registry.Credentials is { } c
            ? Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{c.Username}\n{c.Password}")))
            : string.Empty;
        var text = string.Join(
            '\n',
            registry.ContainerName,
            registry.Host,
            registry.Upstream,
            mirror.Address.ToString(),
            registry.RequestedPort.ToString(CultureInfo.InvariantCulture),
            registry.CacheVolume,
            imageId,
            KubeDindNetwork.DefaultName,
            credentials,

            // A mirror started before its log was JSON is recreated (its cache volume stays): the usage counts need JSON.
            $"{MirrorImage.LogFormatterVariable}={MirrorImage.LogFormatter}");
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();
    }

    public static bool IsMirrorContainer(ContainerInspectResponse container) =>
        KubeDindLabels.IsOwned(container.Config?.Labels)
        && container.Config!.Labels.TryGetValue(KubeDindLabels.Role, out var role) && role == Role;

    public static MirrorMode ModeOf(ContainerInspectResponse container) =>
        container.Config?.Labels?.TryGetValue(ModeLabel, out var mode) == true && mode == CacheOnlyMode ? MirrorMode.CacheOnly : MirrorMode.Proxy;

    /// <summary>The host port the container publishes for the registry API, or null.</summary>
    public static int? PublishedPort(ContainerInspectResponse container)
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
}
