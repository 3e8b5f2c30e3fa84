namespace KubeDind.Docker;

/// <summary>
/// A Docker build context assembled in memory: the project's own build contexts embedded in this
/// assembly (under <c>image/</c>) plus files the caller adds, such as a locally supplied k3s binary.
/// </summary>
public sealed class BuildContext
{
    private readonly SortedDictionary<string, Func<Stream>> _files = new(StringComparer.Ordinal);
    private readonly Dictionary<string, UnixFileMode> _modes = new(StringComparer.Ordinal);

    /// <summary>
    /// The embedded files whose resource name starts with <paramref name="prefix"/> (e.g. "image/"), re-rooted at
    /// the context's top, leaving out those under any of <paramref name="excludePrefixes"/> (relative to the prefix).
    /// </summary>
    public static BuildContext FromEmbedded(string prefix, params string[] excludePrefixes)
    {
        var assembly = typeof(BuildContext).Assembly;
        var context = new BuildContext();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            var path = name[prefix.Length..];
            if (excludePrefixes.Any(e => path.StartsWith(e, StringComparison.Ordinal)))
            {
                continue;
            }

            context._files[path] = () => assembly.GetManifestResourceStream(name)!;
            context._modes[path] = IsExecutable(path) ? Executable : Regular;
        }

        if (context._files.Count == 0)
        {
            throw new KubeDindException($"no embedded build context under '{prefix}' in {assembly.GetName().Name}; the package is incomplete: reinstall it.");
        }

        return context;
    }

    public static BuildContext FromDirectory(string directory)
    {
        var context = new BuildContext();
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            var path = Path.GetRelativePath(directory, file).Replace('\\', '/');
            context.AddFile(path, file);
        }

        return context;
    }

    public bool Contains(string path) => _files.ContainsKey(path);

    public BuildContext AddFile(string path, string sourceFile, UnixFileMode? mode = null)
    {
        _files[path] = () => File.OpenRead(sourceFile);
        _modes[path] = mode ?? (OperatingSystem.IsWindows() ? Regular : File.GetUnixFileMode(sourceFile));
        return this;
    }

    public BuildContext AddText(string path, string content, UnixFileMode? mode = null)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(content);
        _files[path] = () => new MemoryStream(bytes, writable: false);
        _modes[path] = mode ?? Regular;
        return this;
    }

    /// <summary>Writes the context as an uncompressed tar to a temporary file and returns it opened for reading (deleted on close).</summary>
    public Task<Stream> ToTarAsync(CancellationToken cancellationToken) =>
        TarArchive.ToTemporaryFileAsync(
            "context",
            async archive =>
            {
                foreach (var (path, open) in _files)
                {
                    await using var data = open();
                    await archive.AddStreamAsync(path, data, _modes[path], cancellationToken).ConfigureAwait(false);
                }
            },
            cancellationToken);

    /// <summary>A stable digest of the context's content, for "is the image up to date" checks.</summary>
    public string ContentHash()
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var (path, open) in _files)
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(path + "\0" + (int)_modes[path] + "\0"));
            using var data = open();
            var buffer = new byte[81920];
            int read;
            while ((read = data.Read(buffer, 0, buffer.Length)) > 0)
            {
                sha.AppendData(buffer, 0, read);
            }
        }

        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }

    private const UnixFileMode Regular = TarArchive.Regular;
    private const UnixFileMode Executable = TarArchive.Executable;

    private static bool IsExecutable(string path) =>
        path.EndsWith(".sh", StringComparison.Ordinal) || path.Contains("/bin/", StringComparison.Ordinal) || path.StartsWith("bin/", StringComparison.Ordinal);
}
