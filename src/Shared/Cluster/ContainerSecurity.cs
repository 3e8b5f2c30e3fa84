using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// The container facts a kube-dind container needs from the engine, stated in one place:
/// <see cref="PrivilegeMode.Privileged"/> is <c>--privileged</c>; <see cref="PrivilegeMode.Fallback"/> is what
/// works where the engine refuses <c>--privileged</c> (typically "unable to apply caps" because a capability
/// such as CAP_SYS_RESOURCE is outside dockerd's bounding set): every capability the engine can grant,
/// seccomp/AppArmor/system paths unconfined, all devices allowed by cgroup rule, /dev/kmsg, and a private
/// cgroup namespace (the entrypoint remounts its cgroups read-write there). Both modes get tmpfs /run and an
/// anonymous volume for each state directory, removed with the container.
/// </summary>
public static class ContainerSecurity
{
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

    // Capability numbers 0..37; later ones (PERFMON, BPF, CHECKPOINT_RESTORE) are unknown to Docker 20.10
    // ("invalid CapAdd: unknown capability") and not needed here.
    private static readonly string[] CapabilityNames =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
        "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    ];

    // What engines say when they will not run a privileged container.
    private static readonly string[] RefusalMarkers =
    [
        "unable to apply caps",
        "privileged mode is disabled",
        "privileged containers are not allowed",
        "privileged mode is not allowed",
        "privileged containers are disabled",
    ];

    /// <summary>
    /// Sets <paramref name="hostConfig"/> up for <paramref name="mode"/> (Privileged or Fallback); for Fallback the
    /// capabilities are the engine's bounding set when it can be read, else <see cref="FixedCapabilities"/>.
    /// </summary>
    public static async Task<HostConfig> ApplyAsync(KubeDindSession session, HostConfig hostConfig, PrivilegeMode mode, IDictionary<string, string>? volumeLabels = null, CancellationToken cancellationToken = default)
    {
        var capabilities = mode == PrivilegeMode.Fallback ? await EngineCapabilitiesAsync(session.Docker, session.Log, cancellationToken).ConfigureAwait(false) : null;
        return Apply(hostConfig, mode, capabilities, volumeLabels);
    }

    /// <summary>Sets <paramref name="hostConfig"/> up for <paramref name="mode"/> with the given capabilities (Fallback only).</summary>
    public static HostConfig Apply(HostConfig hostConfig, PrivilegeMode mode, IReadOnlyList<string>? capabilities = null, IDictionary<string, string>? volumeLabels = null)
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
                hostConfig.CgroupnsMode = "private";
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "resolve PrivilegeMode.Auto to Privileged or Fallback first");
        }

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

    /// <summary>True when the engine refused to start a container because it is privileged (retry with Fallback).</summary>
    public static bool IsPrivilegeRefusal(DockerApiException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var text = exception.ResponseBody + "\n" + exception.Message;
        return RefusalMarkers.Any(marker => text.Contains(marker, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// The capabilities the engine can grant: dockerd's bounding set when the engine runs on this machine
    /// (read from /proc), otherwise <see cref="FixedCapabilities"/>.
    /// </summary>
    public static async Task<IReadOnlyList<string>> EngineCapabilitiesAsync(IDockerClient docker, IKubeDindLog log, CancellationToken cancellationToken)
    {
        var local = docker is DockerClient client && client.Configuration.EndpointBaseUri.Scheme == "unix";
        if (local && OperatingSystem.IsLinux() && await ReadDockerdBoundingSetAsync(cancellationToken).ConfigureAwait(false) is { } bounding)
        {
            var names = FromMask(bounding);
            var missing = CapabilityNames.Except(names).Select(n => n["CAP_".Length..]).ToList();
            log.Debug($"container security: dockerd's bounding set {bounding:x}; lacking {(missing.Count == 0 ? "nothing" : string.Join(", ", missing))}");
            return names;
        }

        log.Debug("container security: the engine's bounding set cannot be read (not a local engine); using the fixed capability set");
        return FixedCapabilities;
    }

    /// <summary>The capability names of the bits set in <paramref name="mask"/> (a CapBnd value), numbers 0..37 only.</summary>
    public static IReadOnlyList<string> FromMask(ulong mask) =>
        CapabilityNames.Where((_, bit) => (mask & (1UL << bit)) != 0).ToList();

    private static async Task<ulong?> ReadDockerdBoundingSetAsync(CancellationToken cancellationToken)
    {
        foreach (var pid in DockerdPids())
        {
            try
            {
                var status = await File.ReadAllLinesAsync($"/proc/{pid}/status", cancellationToken).ConfigureAwait(false);
                var line = status.FirstOrDefault(l => l.StartsWith("CapBnd:", StringComparison.Ordinal));
                if (line is not null && ulong.TryParse(line["CapBnd:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask))
                {
                    return mask;
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return null;
    }

    private static IEnumerable<string> DockerdPids()
    {
        foreach (var pidFile in new[] { "/run/docker.pid", "/var/run/docker.pid" })
        {
            if (File.Exists(pidFile) && File.ReadAllText(pidFile).Trim() is { Length: > 0 } pid)
            {
                yield return pid;
            }
        }

        IEnumerable<string> processes;
        try
        {
            processes = Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n is { Length: > 0 } && n.All(char.IsDigit)).Select(n => n!).ToList();
        }
        catch (IOException)
        {
            yield break;
        }

        foreach (var pid in processes)
        {
            string comm;
            try
            {
                comm = File.ReadAllText($"/proc/{pid}/comm").Trim();
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            if (comm == "dockerd")
            {
                yield return pid;
            }
        }
    }
}
