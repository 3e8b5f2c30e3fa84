using System.Formats.Tar;
using KubeDind.Docker;
using KubeDind.IO;
using KubeDind.Logging;

namespace KubeDind.Tests.Docker;

/// <summary>The one tar writer (build contexts, files copied into containers, the debootstrap root file system) and the process runner.</summary>
public sealed class TarArchiveTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_build_context_gives_the_same_bytes_every_time_with_the_modes_given()
    {
        var context = BuildContext.FromEmbedded(MirrorImageContext).AddText("bin/tool", "#!/bin/sh\n", TarArchive.Executable).AddText("notes.txt", "hello");

        var first = await BytesAsync(context);
        await Task.Delay(1100, Token);
        var second = await BytesAsync(context);

        Assert.Equal(first, second);
        var entries = await EntriesAsync(first);
        Assert.Equal(entries.Select(e => e.Name).Order(StringComparer.Ordinal), entries.Select(e => e.Name));
        Assert.Equal(TarArchive.Executable, entries.Single(e => e.Name == "bin/tool").Mode);
        Assert.Equal(TarArchive.Regular, entries.Single(e => e.Name == "notes.txt").Mode);
        Assert.All(entries, e => Assert.Equal(DateTimeOffset.UnixEpoch, e.ModificationTime));
    }

    [Fact]
    public async Task A_root_file_system_keeps_owners_links_and_device_nodes_and_is_removed_afterwards()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux() && Environment.UserName == "root", "device nodes and owners need root on Linux (as debootstrap does)");
        var rootfs = Directory.CreateTempSubdirectory("kubedind-tartest-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(rootfs, "dev"));
            Directory.CreateDirectory(Path.Combine(rootfs, "etc"));
            await File.WriteAllTextAsync(Path.Combine(rootfs, "etc", "hostname"), "debian\n", Token);
            await ProcessRunner.RunAsync(NullKubeDindLog.Instance, "chmod", ["600", Path.Combine(rootfs, "etc", "hostname")], TimeSpan.FromSeconds(30), "chmod is in coreutils.", Token);
            File.CreateSymbolicLink(Path.Combine(rootfs, "etc", "link"), "hostname");
            await ProcessRunner.RunAsync(NullKubeDindLog.Instance, "mknod", [Path.Combine(rootfs, "dev", "null"), "c", "1", "3"], TimeSpan.FromSeconds(30), "mknod is in coreutils.", Token);
            await ProcessRunner.RunAsync(NullKubeDindLog.Instance, "chown", ["42:42", Path.Combine(rootfs, "etc", "hostname")], TimeSpan.FromSeconds(30), "chown is in coreutils.", Token);

            using var tar = new MemoryStream();
            await TarArchive.WriteTreeAsync(rootfs, tar, Token);
            var entries = await EntriesAsync(tar.ToArray());

            var hostname = entries.Single(e => e.Name.TrimStart('.', '/') == "etc/hostname");
            Assert.Equal((42, 42, UnixFileMode.UserRead | UnixFileMode.UserWrite), (hostname.Uid, hostname.Gid, hostname.Mode));
            var link = entries.Single(e => e.Name.TrimStart('.', '/') == "etc/link");
            Assert.Equal((TarEntryType.SymbolicLink, "hostname"), (link.EntryType, link.LinkName));
            var device = Assert.IsAssignableFrom<PosixTarEntry>(entries.Single(e => e.Name.TrimStart('.', '/') == "dev/null"));
            Assert.Equal((TarEntryType.CharacterDevice, 1, 3), (device.EntryType, device.DeviceMajor, device.DeviceMinor));
        }
        finally
        {
            Directory.Delete(rootfs, recursive: true);
        }

        Assert.False(Directory.Exists(rootfs));
    }

    [Fact]
    public async Task A_failed_command_is_named_with_its_last_lines()
    {
        var failure = await Assert.ThrowsAsync<KubeDindException>(() =>
            ProcessRunner.RunAsync(NullKubeDindLog.Instance, "sh", ["-c", "echo first; echo 'the reason' >&2; exit 3"], TimeSpan.FromSeconds(30), "check the input.", Token));

        Assert.Contains("'sh -c", failure.Message, StringComparison.Ordinal);
        Assert.Contains("code 3", failure.Message, StringComparison.Ordinal);
        Assert.Contains("the reason", failure.Details, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_past_its_time_limit_is_stopped_and_named()
    {
        var failure = await Assert.ThrowsAsync<KubeDindException>(() =>
            ProcessRunner.RunAsync(NullKubeDindLog.Instance, "sleep", ["30"], TimeSpan.FromSeconds(1), "check the input.", Token));

        Assert.Contains("'sleep 30' did not finish within", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_program_is_named()
    {
        var failure = await Assert.ThrowsAsync<KubeDindException>(() =>
            ProcessRunner.RunAsync(NullKubeDindLog.Instance, "/nonexistent/kubedind-tool", [], TimeSpan.FromSeconds(5), "check the input.", Token));

        Assert.Contains("/nonexistent/kubedind-tool", failure.Message, StringComparison.Ordinal);
    }

    private const string MirrorImageContext = "image/mirror/";

    private static async Task<byte[]> BytesAsync(BuildContext context)
    {
        await using var tar = await context.ToTarAsync(Token);
        using var copy = new MemoryStream();
        await tar.CopyToAsync(copy, Token);
        return copy.ToArray();
    }

    private static async Task<List<TarEntry>> EntriesAsync(byte[] tar)
    {
        using var reader = new TarReader(new MemoryStream(tar));
        var entries = new List<TarEntry>();
        while (await reader.GetNextEntryAsync(copyData: false, Token) is { } entry)
        {
            entries.Add(entry);
        }

        return entries;
    }
}
