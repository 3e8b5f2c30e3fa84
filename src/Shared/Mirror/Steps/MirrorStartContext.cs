using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Logging;
using KubeDind.Networking;

namespace KubeDind.Mirror.Steps;

/// <summary>What the steps starting one registry's mirror share (kind's action context): inputs, then what each step found or made.</summary>
internal sealed class MirrorStartContext
{
    public MirrorStartContext(KubeDindSession session, ValidMirror mirror, ValidRegistry registry, string image, string imageId, string networkId, PortReservations ports)
    {
        Session = session;
        Mirror = mirror;
        Registry = registry;
        Image = image;
        SettingsHash = MirrorContainerSpec.SettingsHash(mirror, registry, imageId);
        NetworkId = networkId;
        Ports = ports;
    }

    public KubeDindSession Session { get; }

    public IDockerClient Docker => Session.Docker;

    public IKubeDindLog Log => Session.Log;

    public ValidMirror Mirror { get; }

    public ValidRegistry Registry { get; }

    public string Image { get; }

    public string SettingsHash { get; }

    public string NetworkId { get; }

    public PortReservations Ports { get; }

    /// <summary>How log lines and errors name this mirror.</summary>
    public string Subject => $"mirror {Registry.ContainerName}";

    /// <summary>The container found under the registry's name before anything was changed (FindExisting).</summary>
    public ContainerInspectResponse? Existing { get; set; }

    /// <summary>The host port of a container removed in this start, offered again so the mirror keeps its URL.</summary>
    public int? PreviousPort { get; set; }

    /// <summary>True once this start created the cache volume: only such a volume may be removed when the start fails.</summary>
    public bool VolumeCreated { get; set; }

    /// <summary>Why the upstream counts as unreachable (the registry's own panic line), once a start found it so.</summary>
    public string? UpstreamUnreachable { get; set; }

    public MirrorEndpoints Endpoints(string containerId, int port, bool reused, MirrorMode mode) => new(
        Registry.Host,
        Registry.Upstream,
        containerId,
        Registry.ContainerName,
        $"http://{Mirror.HostUrlHost}:{port.ToString(CultureInfo.InvariantCulture)}",
        $"http://{Registry.ContainerName}:{MirrorImage.Port.ToString(CultureInfo.InvariantCulture)}",
        KubeDindNetwork.DefaultName,
        reused,
        mode == MirrorMode.CacheOnly);
}

/// <summary>Free host ports handed out to the registries starting side by side, so two never pick the same one.</summary>
internal sealed class PortReservations
{
    private readonly HashSet<int> _taken = [];

    public int Reserve(System.Net.IPAddress address, int? preferred)
    {
        lock (_taken)
        {
            if (preferred is { } port && !_taken.Contains(port) && !HostPorts.IsTaken(address, port))
            {
                _taken.Add(port);
                return port;
            }

            for (var i = 0; ; i++)
            {
                var free = HostPorts.FindFree(address);
                if (_taken.Add(free) || i > 20)
                {
                    return free;
                }
            }
        }
    }
}
