using System.Globalization;
using Docker.DotNet;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>What the engine can grant a container that is not privileged: dockerd's capability bounding set.</summary>
public static class EngineCapabilities
{
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

    /// <summary>
    /// The capabilities (numbers 0..37, without "CAP_") missing from the bounding set of a dockerd visible in this machine's
    /// /proc, or null when none is visible.
    /// </summary>
    public static async Task<IReadOnlyList<string>?> LackedByLocalDockerdAsync(CancellationToken cancellationToken) =>
        OperatingSystem.IsLinux() && await ReadDockerdBoundingSetAsync(cancellationToken).ConfigureAwait(false) is { } bounding
            ? Missing(bounding)
            : null;

    /// <summary>
    /// The capabilities the engine can grant, learned where the engine runs and cached for the session: a local engine's
    /// dockerd bounding set from this machine's /proc; otherwise (a remote engine, or a socket mounted from another
    /// machine) through a probe container in the engine's PID namespace (<see cref="EngineProbe"/>, run from
    /// <paramref name="probeImage"/>); failing both, <see cref="ClusterContainerSpec.FixedCapabilities"/>. The log says which.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ReadAsync(KubeDindSession session, string? probeImage, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        return session.EngineCapabilities ??= await LearnAsync(session, probeImage, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The capabilities from this machine's /proc when the engine is local (unix socket), else the fixed set.</summary>
    public static async Task<IReadOnlyList<string>> ReadAsync(IDockerClient docker, IKubeDindLog log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(log);
        var local = docker is DockerClient client && client.Configuration.EndpointBaseUri.Scheme == "unix";
        if (local && OperatingSystem.IsLinux() && await ReadDockerdBoundingSetAsync(cancellationToken).ConfigureAwait(false) is { } bounding)
        {
            return Describe(log, bounding, "dockerd's bounding set in /proc on this machine");
        }

        log.Debug("container security: the engine's bounding set cannot be read (not a local engine); using the fixed capability set");
        return ClusterContainerSpec.FixedCapabilities;
    }

    private static async Task<IReadOnlyList<string>> LearnAsync(KubeDindSession session, string? probeImage, CancellationToken cancellationToken)
    {
        var log = session.Log;
        if (session.Engine.IsLocal && OperatingSystem.IsLinux() && await ReadDockerdBoundingSetAsync(cancellationToken).ConfigureAwait(false) is { } bounding)
        {
            return Describe(log, bounding, "dockerd's bounding set in /proc on this machine");
        }

        var engine = await EngineProbe.DescribeAsync(session.Docker, cancellationToken).ConfigureAwait(false);
        var why = "no probe image";
        if (probeImage is not null)
        {
            var labels = KubeDindLabels.ForResource(EngineProbe.ProbeRole, session.RunId);
            (var mask, why) = await EngineProbe.DockerdBoundingSetAsync(session.Docker, probeImage, labels, cancellationToken).ConfigureAwait(false);
            if (mask is { } probed)
            {
                return Describe(log, probed, $"dockerd's bounding set {why} ({engine})");
            }
        }

        log.Info($"container security: the engine's bounding set cannot be read ({why}); using the fixed capability set ({engine})");
        return ClusterContainerSpec.FixedCapabilities;
    }

    private static IReadOnlyList<string> Describe(IKubeDindLog log, ulong bounding, string source)
    {
        var names = FromMask(bounding);
        var missing = Missing(bounding);
        log.Info($"container security: capabilities from {source}: {bounding:x}, lacking {(missing.Count == 0 ? "nothing" : string.Join(", ", missing))}");
        return names;
    }

    /// <summary>The capabilities (without "CAP_") whose bits <paramref name="bounding"/> lacks, numbers 0..37 only.</summary>
    private static List<string> Missing(ulong bounding) => CapabilityNames.Except(FromMask(bounding)).Select(n => n["CAP_".Length..]).ToList();

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
