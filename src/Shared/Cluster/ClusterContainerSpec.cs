using System.Globalization;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Networking;

namespace KubeDind.Cluster;

/// <summary>
/// Every fact of a kube-dind cluster container, stated in one place and computed without the engine (as
/// Testcontainers' <c>K3sBuilder.Init()</c> does): name, image, environment, labels, published ports, mounts,
/// network, and the privilege set. <see cref="PrivilegeMode.Privileged"/> is <c>--privileged</c>;
/// <see cref="PrivilegeMode.Fallback"/> is what works where the engine refuses <c>--privileged</c> (typically
/// "unable to apply caps" because a capability such as CAP_SYS_RESOURCE is outside dockerd's bounding set):
/// every capability the engine can grant, seccomp/AppArmor/system paths unconfined, all devices allowed by
/// cgroup rule, and /dev/kmsg. Both modes get a private cgroup namespace (the entrypoint remounts its cgroups
/// read-write there), tmpfs /run and an anonymous volume for each state directory, removed with the container.
/// </summary>
public sealed record ClusterContainerSpec(string Name, string Image, ClusterSettings Settings, string RunId)
{
    public const string Role = "cluster";
    public const int RegistryContainerPort = 5000;
    public const int ApiContainerPort = 6443;

    /// <summary>The Kubernetes node name of the server (the image's k3s --node-name); agents are named by <see cref="ClusterAgentSpec"/>.</summary>
    public static string ServerNodeName => ImageContract.Current.ServerNodeName;

    /// <summary>The directories that hold state and must not sit on the container's overlay file system.</summary>
    public static readonly IReadOnlyList<string> StateDirectories = ["/var/lib/docker", "/var/lib/rancher/k3s", "/var/lib/kubelet", "/var/lib/registry"];

    /// <summary>
    /// Capabilities asked for when the engine's bounding set cannot be read (remote engine, Docker Desktop):
    /// everything an inner dockerd and kubelet use, leaving out CAP_SYS_RESOURCE (the one such engines
    /// commonly lack; the image copes without it), CAP_SYS_MODULE, CAP_SYS_BOOT, CAP_SYS_TIME and the MAC ones.
    /// </summary>
    public static readonly IReadOnlyList<string> FixedCapabilities =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN",
        "CAP_SYS_NICE", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    ];

    /// <summary>
    /// Where the ports are published (<see cref="HostPorts.Choose"/>); null = <see cref="ClusterSettings.HostAddress"/>, else 127.0.0.1.
    /// When this build reaches the API at another name than loopback, the API server's certificate is made valid for it.
    /// </summary>
    public PortPublishing? Publishing { get; init; }

    /// <summary>Traefik serves on the container's ports 80 and 443 (through ServiceLB): published unless the settings publish them.</summary>
    public static ClusterSettings WithComponentPorts(ClusterSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (!settings.Kubernetes || !settings.Traefik)
        {
            return settings;
        }

        var missing = new[] { 80, 443 }.Where(port => settings.Ports.All(p => p.ContainerPort != port)).Select(port => new PortMapping(port));
        return settings with { Ports = [.. settings.Ports, .. missing] };
    }

    /// <summary>
    /// The container for <paramref name="mode"/> (Privileged or Fallback); Fallback gets <paramref name="capabilities"/>
    /// (the engine's bounding set, <see cref="EngineCapabilities"/>) or else <see cref="FixedCapabilities"/>.
    /// </summary>
    public CreateContainerParameters ToParameters(PrivilegeMode mode, IReadOnlyList<string>? capabilities = null)
    {
        var settings = Settings;
        var exposed = new Dictionary<string, EmptyStruct>();
        var bindings = new Dictionary<string, IList<PortBinding>>();
        foreach (var (key, binding) in PublishedPorts())
        {
            exposed[key] = default;
            bindings[key] = [binding];
        }

        var labels = new Dictionary<string, string>(settings.Labels);
        foreach (var (key, value) in KubeDindLabels.ForResource(Role, RunId))
        {
            labels[key] = value;
        }

        labels[KubeDindLabels.Cluster] = Name;
        var volumeLabels = KubeDindLabels.ForResource(Role + "-volume", RunId);
        volumeLabels[KubeDindLabels.Cluster] = Name;
        var environment = new Dictionary<string, string>(settings.Environment)
        {
            ["KUBEDIND_KUBERNETES"] = settings.Kubernetes ? "true" : "false",
            ["KUBEDIND_REGISTRY_MIRRORS"] = string.Join(',', settings.MirrorUrls),
        };
        foreach (var (key, value) in NodeEnvironment(0))
        {
            environment[key] = value;
        }

        var hostConfig = WithPrivileges(
            new HostConfig
            {
                PortBindings = bindings,
                Binds = settings.Mounts.Select(m => $"{Path.GetFullPath(m.HostPath)}:{m.ContainerPath}{(m.ReadOnly ? ":ro" : string.Empty)}").ToList(),
                NetworkMode = settings.NetworkOrDefault,
                RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
            },
            mode,
            capabilities,
            volumeLabels);
        if (settings.LayerStore.Enabled)
        {
            hostConfig.Mounts.Add(LayerStore.MountFor(settings.LayerStore));
        }

        return new CreateContainerParameters
        {
            Name = Name,
            Hostname = Name.Length <= 63 ? Name : Name[..63],
            Image = Image,
            Env = environment.Select(kv => $"{kv.Key}={kv.Value}").ToList(),
            Labels = labels,
            ExposedPorts = exposed,
            HostConfig = hostConfig,
            NetworkingConfig = new NetworkingConfig
            {
                EndpointsConfig = new Dictionary<string, EndpointSettings> { [settings.NetworkOrDefault] = new EndpointSettings { Aliases = [Name] } },
            },
        };
    }

    /// <summary>
    /// Sets <paramref name="hostConfig"/> up for <paramref name="mode"/> (Privileged or Fallback): the privilege set,
    /// the private cgroup namespace, tmpfs /run and the state volumes. Also used for test containers of the image.
    /// </summary>
    public static HostConfig WithPrivileges(HostConfig hostConfig, PrivilegeMode mode, IReadOnlyList<string>? capabilities = null, IDictionary<string, string>? volumeLabels = null)
    {
        ArgumentNullException.ThrowIfNull(hostConfig);
        switch (mode)
        {
            case PrivilegeMode.Privileged:
                hostConfig.Privileged = true;
                break;
            case PrivilegeMode.Fallback:
                hostConfig.Privileged = false;
                hostConfig.CapAdd = (capabilities ?? FixedCapabilities).ToList();
                hostConfig.SecurityOpt = ["seccomp=unconfined", "apparmor=unconfined", "label=disable"];
                // Empty (not absent) lists: the engine then masks and write-protects nothing under /proc and /sys,
                // as `--security-opt systempaths=unconfined` does.
                hostConfig.MaskedPaths = [];
                hostConfig.ReadonlyPaths = [];
                hostConfig.DeviceCgroupRules = ["a *:* rwm"];
                hostConfig.Devices = [new DeviceMapping { PathOnHost = "/dev/kmsg", PathInContainer = "/dev/kmsg", CgroupPermissions = "rwm" }];
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "resolve PrivilegeMode.Auto to Privileged or Fallback first");
        }

        // Both modes: in the host's cgroup namespace a privileged inner dockerd and kubelet would create their
        // cgroups (/docker, /kubepods) in the host's hierarchy, next to the outer engine's own.
        hostConfig.CgroupnsMode = "private";

        // /var/run is a symlink to /run in the image: one tmpfs covers both.
        hostConfig.Tmpfs = new Dictionary<string, string>(hostConfig.Tmpfs ?? new Dictionary<string, string>()) { ["/run"] = "rw,exec,nosuid,nodev,mode=755" };
        hostConfig.Mounts = (hostConfig.Mounts ?? [])
            .Where(m => !StateDirectories.Contains(m.Target))
            .Concat(StateDirectories.Select(directory => new Mount
            {
                Type = "volume",
                Target = directory,
                VolumeOptions = volumeLabels is null ? null : new VolumeOptions { Labels = new Dictionary<string, string>(volumeLabels) },
            }))
            .ToList();
        return hostConfig;
    }

    /// <summary>The container names of every node, the server first (index 0), then the agents (<see cref="ClusterSettings.Agents"/>).</summary>
    public IReadOnlyList<string> NodeContainers => [Name, .. Enumerable.Range(1, Math.Max(0, Settings.Agents)).Select(i => ClusterAgentSpec.AgentName(Name, i))];

    /// <summary>
    /// What node <paramref name="index"/> of a multi-node cluster is told about the others (none for a single node): every
    /// node's container (the image routes each node's /24 of the pod network via it), its own index and the pod network.
    /// </summary>
    internal IReadOnlyDictionary<string, string> NodeEnvironment(int index) =>
        Settings.Agents <= 0 || !Settings.Kubernetes
            ? new Dictionary<string, string>()
            : new Dictionary<string, string>
            {
                ["KUBEDIND_NODES"] = string.Join(',', NodeContainers),
                ["KUBEDIND_NODE_INDEX"] = index.ToString(CultureInfo.InvariantCulture),
                ["KUBEDIND_CLUSTER_CIDR"] = K3sConfiguration.ClusterCidr(Settings),
            };

    private string BindAddress => Publishing?.BindAddress ?? Settings.HostAddress ?? DockerEndpoint.Loopback;

    /// <summary>k3s names localhost, 127.0.0.1 and the container in its certificate; a remote engine's host (or the override) is added.</summary>
    /// <summary>The k3s arguments for config.yaml: a non-loopback publishing host as TLS SAN, then the settings' own.</summary>
    internal IReadOnlyList<string> K3sArguments => [.. TlsSubjectAlternativeNames(), .. Settings.K3sArgs];

    private IEnumerable<string> TlsSubjectAlternativeNames() =>
        Publishing is { } publishing && !DockerEndpoint.IsLoopbackName(publishing.UrlHost)
            ? [$"--tls-san={publishing.UrlHost.Trim('[', ']')}"]
            : [];

    /// <summary>The registry, the API (unless compose mode) and the extra ports, each as "port/protocol" and its host binding.</summary>
    private IEnumerable<(string Key, PortBinding Binding)> PublishedPorts()
    {
        (string, PortBinding) Publish(int containerPort, int hostPort, string protocol) =>
            ($"{containerPort}/{protocol}", new PortBinding { HostIP = BindAddress, HostPort = hostPort == 0 ? string.Empty : hostPort.ToString(CultureInfo.InvariantCulture) });

        yield return Publish(RegistryContainerPort, Settings.RegistryHostPort, "tcp");
        if (Settings.Kubernetes)
        {
            yield return Publish(ApiContainerPort, Settings.ApiHostPort, "tcp");
        }

        foreach (var port in Settings.Ports)
        {
            yield return Publish(port.ContainerPort, port.HostPort, port.Protocol);
        }
    }
}
