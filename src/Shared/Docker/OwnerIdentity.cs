using System.Diagnostics;
using System.Globalization;

namespace KubeDind.Docker;

/// <summary>
/// Who owns a resource, precisely enough that another process sharing the engine can tell "my owner is gone" from
/// "my owner lives where I cannot see it". A PID alone is not an identity: build containers on one engine each have
/// their own PID namespace (PID 7 in one is not PID 7 in another), and PIDs are reused. So the owner is recorded as
/// <list type="bullet">
/// <item>host name (<see cref="KubeDindLabels.OwnerHost"/>) — in a container, usually its id;</item>
/// <item>boot id (<see cref="KubeDindLabels.OwnerBootId"/>, /proc/sys/kernel/random/boot_id) — which kernel, since when;</item>
/// <item>PID namespace (<see cref="KubeDindLabels.OwnerPidNamespace"/>, the inode of /proc/self/ns/pid) — which set of PIDs;</item>
/// <item>PID and its start time (<see cref="KubeDindLabels.OwnerPid"/>, <see cref="KubeDindLabels.OwnerStart"/>: clock ticks
/// after boot from /proc/self/stat) — which process, not a later one given the same number.</item>
/// </list>
/// A judge decides only when host name, boot id and PID namespace all equal its own: then the owner is alive exactly when
/// a process with that PID and that start time exists. Otherwise the owner is someone else's to judge, and only the
/// sweep's age limit applies. Assumed: Linux (/proc) for the full identity; elsewhere host name, PID and start time.
/// </summary>
public sealed record OwnerIdentity(string Host, int Pid, string Start, string? BootId, string? PidNamespace)
{
    private static readonly Lazy<OwnerIdentity> CurrentLazy = new(ReadCurrent);

    /// <summary>This process.</summary>
    public static OwnerIdentity Current => CurrentLazy.Value;

    /// <summary>The labels that record this identity.</summary>
    public IEnumerable<KeyValuePair<string, string>> Labels()
    {
        yield return new(KubeDindLabels.OwnerHost, Host);
        yield return new(KubeDindLabels.OwnerPid, Pid.ToString(CultureInfo.InvariantCulture));
        yield return new(KubeDindLabels.OwnerStart, Start);
        if (BootId is not null)
        {
            yield return new(KubeDindLabels.OwnerBootId, BootId);
        }

        if (PidNamespace is not null)
        {
            yield return new(KubeDindLabels.OwnerPidNamespace, PidNamespace);
        }
    }

    /// <summary>
    /// Whether the owner recorded in <paramref name="labels"/> is gone, seen from <paramref name="judge"/> (default: this
    /// process): a reason when it certainly is, null when it lives or cannot be judged from here.
    /// </summary>
    public static string? WhyGone(IDictionary<string, string> labels, OwnerIdentity? judge = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        judge ??= Current;
        if (!labels.TryGetValue(KubeDindLabels.OwnerHost, out var host) || host != judge.Host
            || !labels.TryGetValue(KubeDindLabels.OwnerPid, out var pidText) || !int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            return null;
        }

        labels.TryGetValue(KubeDindLabels.OwnerBootId, out var bootId);
        labels.TryGetValue(KubeDindLabels.OwnerPidNamespace, out var pidNamespace);
        labels.TryGetValue(KubeDindLabels.OwnerStart, out var start);

        // Recorded on another kernel or in another PID namespace (another build container on the same engine): not ours to judge.
        if (bootId != judge.BootId || pidNamespace != judge.PidNamespace)
        {
            return null;
        }

        var now = StartOf(pid);
        if (now is null)
        {
            return $"its owning process {pid} on {host} is gone";
        }

        // No start time recorded (labels from before it was): the PID alone decides, as it did then.
        return start is not null && start != now ? $"its owning process {pid} on {host} is gone (PID {pid} now belongs to a process started later)" : null;
    }

    private static OwnerIdentity ReadCurrent()
    {
        var pid = Environment.ProcessId;
        return new OwnerIdentity(
            Environment.MachineName,
            pid,
            StartOf(pid) ?? "unknown",
            ReadTrimmed("/proc/sys/kernel/random/boot_id"),
            PidNamespaceOfSelf());
    }

    /// <summary>When process <paramref name="pid"/> started, as recorded in the labels; null when no such process runs.</summary>
    internal static string? StartOf(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            // Field 22 of /proc/<pid>/stat, counted after the command (which is in parentheses and may hold spaces).
            var stat = ReadTrimmed($"/proc/{pid}/stat");
            if (stat is null)
            {
                return null;
            }

            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 19 ? "ticks:" + fields[19] : "unknown";
        }

        try
        {
            using var process = Process.GetProcessById(pid);
            return process.HasExited ? null : process.StartTime.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
        }
        catch (ArgumentException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string? PidNamespaceOfSelf()
    {
        try
        {
            return OperatingSystem.IsLinux() ? new FileInfo("/proc/self/ns/pid").LinkTarget : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? ReadTrimmed(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
