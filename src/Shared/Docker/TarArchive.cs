using System.Formats.Tar;
using System.Text;

namespace KubeDind.Docker;

/// <summary>
/// The tar archives this library hands the engine (build contexts, files copied into a container): PAX entries with
/// the modes given and a fixed modification time, so the same input always gives the same bytes.
/// </summary>
internal sealed class TarArchive : IAsyncDisposable
{
    public const UnixFileMode Regular = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    public const UnixFileMode Executable = Regular | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
    public const UnixFileMode Directory = Executable;

    private readonly TarWriter _writer;

    private TarArchive(Stream output, bool leaveOpen) => _writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen);

    /// <summary>An archive written to <paramref name="output"/>, which stays open after the archive is disposed.</summary>
    public static TarArchive Over(Stream output) => new(output, leaveOpen: true);

    /// <summary>
    /// Writes an archive to a temporary file and returns it opened for reading (deleted on close): archives that hold
    /// files such as a k3s binary or an air-gap tarball are streamed to the engine, not held in memory.
    /// </summary>
    public static async Task<Stream> ToTemporaryFileAsync(string purpose, Func<TarArchive, Task> write, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Path.GetTempPath(), $"kubedind-{purpose}-{Guid.NewGuid():N}.tar");
        try
        {
            await using (var archive = new TarArchive(File.Create(path), leaveOpen: false))
            {
                await write(archive).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 81920, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    /// <summary>
    /// The whole tree under <paramref name="directory"/> as it is on disk (owners, modes, links and device nodes), for
    /// <c>docker import</c> of a root file system.
    /// </summary>
    public static Task WriteTreeAsync(string directory, Stream output, CancellationToken cancellationToken) =>
        TarFile.CreateFromDirectoryAsync(directory, output, includeBaseDirectory: false, cancellationToken);

    public Task AddDirectoryAsync(string path, CancellationToken cancellationToken) =>
        _writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, path.TrimEnd('/') + "/") { Mode = Directory, ModificationTime = DateTimeOffset.UnixEpoch }, cancellationToken);

    public async Task AddStreamAsync(string path, Stream data, UnixFileMode mode, CancellationToken cancellationToken)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, path)
        {
            DataStream = data,
            Mode = mode,
            ModificationTime = DateTimeOffset.UnixEpoch,
        };
        await _writer.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    public async Task AddTextAsync(string path, string text, UnixFileMode mode, CancellationToken cancellationToken)
    {
        using var data = new MemoryStream(Encoding.UTF8.GetBytes(text), writable: false);
        await AddStreamAsync(path, data, mode, cancellationToken).ConfigureAwait(false);
    }

    public async Task AddFileAsync(string path, string sourceFile, UnixFileMode mode, CancellationToken cancellationToken)
    {
        await using var data = File.OpenRead(sourceFile);
        await AddStreamAsync(path, data, mode, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();
}
