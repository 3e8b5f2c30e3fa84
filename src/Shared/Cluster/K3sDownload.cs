using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// Gets a k3s release binary onto this machine: from the host cache when a verified copy is there, else downloaded
/// and verified — the pinned release (<see cref="PinnedVersion"/>) against its fixed SHA-256, any other release against
/// the <c>sha256sum-&lt;arch&gt;.txt</c> published beside it (what k3s's install script checks). The cache is keyed by
/// version and checksum (<c>k3s/&lt;version&gt;/&lt;sha256&gt;/&lt;asset&gt;</c> plus <c>&lt;asset&gt;.sha256</c>), and
/// every copy is re-hashed when used, so a damaged file is fetched again instead of built into an image.
/// </summary>
public sealed partial class K3sDownload
{
    /// <summary>The k3s release KubeDind downloads when no version is asked for.</summary>
    public const string PinnedVersion = "v1.33.7+k3s1";

    /// <summary>Where k3s releases are published; <c>&lt;root&gt;/&lt;version, + as %2B&gt;/&lt;asset&gt;</c>.</summary>
    public const string DefaultReleaseRoot = "https://github.com/k3s-io/k3s/releases/download";

    /// <summary>A mirror of the release root (same layout), for builds that cannot reach github.com.</summary>
    public const string ReleaseRootVariable = "KUBEDIND_K3S_DOWNLOAD_URL";

    /// <summary>The host cache's root; default <c>${XDG_CACHE_HOME:-$HOME/.cache}/kubedind</c>.</summary>
    public const string CacheVariable = "KUBEDIND_CACHE";

    // The pinned release's assets, from its sha256sum-amd64.txt and sha256sum-arm64.txt.
    private static readonly IReadOnlyDictionary<string, string> PinnedSha256 = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["k3s"] = "8cb5e74c409635f73856d1956ca9b2402df3c72524b894299a891d3f05da399d",
        ["k3s-arm64"] = "4648225a3c5617c68f01b8dd2d7cb46ec12903d52dc568c9fab7eaf5296c7306",
    };

    private readonly IKubeDindLog _log;
    private readonly string _releaseRoot;
    private readonly string _cacheRoot;
    private readonly TimeSpan _connectTimeout;

    /// <param name="log">Where progress goes.</param>
    /// <param name="releaseRoot">The release root; null = <see cref="ReleaseRootVariable"/>, else <see cref="DefaultReleaseRoot"/>.</param>
    /// <param name="cacheRoot">The cache root; null = <see cref="DefaultCacheRoot"/>.</param>
    /// <param name="connectTimeout">How long a connection may take before the source counts as unreachable (default 15 s).</param>
    public K3sDownload(IKubeDindLog log, string? releaseRoot = null, string? cacheRoot = null, TimeSpan? connectTimeout = null)
    {
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _releaseRoot = (releaseRoot ?? (Environment.GetEnvironmentVariable(ReleaseRootVariable) is { Length: > 0 } root ? root : DefaultReleaseRoot)).TrimEnd('/');
        _cacheRoot = cacheRoot ?? DefaultCacheRoot();
        _connectTimeout = connectTimeout ?? TimeSpan.FromSeconds(15);
    }

    private static readonly Lazy<Task<(string? Path, string? Failure)>> PinnedForThisProcess = new(async () =>
    {
        var architecture = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "aarch64" : "x86_64";
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            var download = new K3sDownload(NullKubeDindLog.Instance, connectTimeout: TimeSpan.FromSeconds(3));
            return (await download.GetAsync(null, architecture, timeout.Token).ConfigureAwait(false), null);
        }
        catch (KubeDindException ex)
        {
            return (null, ex.Message);
        }
    });

    /// <summary>
    /// The pinned release for this machine's architecture, for tests that need some k3s and were given none: tried once
    /// per process (host cache first, a 3 s connect timeout, so an offline machine finds out within seconds); the path,
    /// or why it cannot be had.
    /// </summary>
    public static Task<(string? Path, string? Failure)> PinnedForTestsAsync() => PinnedForThisProcess.Value;

    /// <summary>How long one file's download may take in all.</summary>
    public TimeSpan DownloadTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary><c>$KUBEDIND_CACHE</c>, else <c>${XDG_CACHE_HOME:-$HOME/.cache}/kubedind</c>.</summary>
    public static string DefaultCacheRoot()
    {
        if (Environment.GetEnvironmentVariable(CacheVariable) is { Length: > 0 } cache)
        {
            return Path.GetFullPath(cache);
        }

        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x
            ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(xdg, "kubedind");
    }

    /// <summary>The release asset for an engine architecture as Docker reports it (x86_64, aarch64); null when k3s publishes none.</summary>
    public static string? AssetFor(string engineArchitecture) => engineArchitecture switch
    {
        "x86_64" or "amd64" => "k3s",
        "aarch64" or "arm64" => "k3s-arm64",
        _ => null,
    };

    /// <summary>Throws a one-line error unless <paramref name="version"/> is a k3s release name such as v1.31.4+k3s1.</summary>
    public static void CheckVersion(string version)
    {
        ArgumentNullException.ThrowIfNull(version);
        if (!ReleaseName().IsMatch(version))
        {
            throw new KubeDindException($"k3s version '{version}' is not a k3s release name; write it as on https://github.com/k3s-io/k3s/releases, e.g. v1.31.4+k3s1.");
        }
    }

    /// <summary>
    /// A verified local copy of k3s <paramref name="version"/> (null = <see cref="PinnedVersion"/>) for the engine's
    /// architecture: the cached one, or one downloaded now.
    /// </summary>
    public async Task<string> GetAsync(string? version, string engineArchitecture, CancellationToken cancellationToken)
    {
        version ??= PinnedVersion;
        CheckVersion(version);
        var asset = AssetFor(engineArchitecture) ?? throw new KubeDindException(
            $"k3s {version}: k3s publishes no binary for the engine's architecture {engineArchitecture} (only amd64 and arm64); supply a k3s binary built for it (K3sBinary).");
        var releaseUrl = $"{_releaseRoot}/{Uri.EscapeDataString(version)}";
        var assetUrl = $"{releaseUrl}/{asset}";
        var versionDirectory = Path.Combine(_cacheRoot, "k3s", version);

        string expected;
        string checksumSource;
        if (version == PinnedVersion && PinnedSha256.TryGetValue(asset, out var pinned))
        {
            expected = pinned;
            checksumSource = "the pinned checksum";
        }
        else
        {
            if (await FindCachedAsync(versionDirectory, asset, cancellationToken).ConfigureAwait(false) is { } cachedUnpinned)
            {
                _log.Info($"k3s {version}: using the cached {cachedUnpinned}");
                return cachedUnpinned;
            }

            checksumSource = $"{releaseUrl}/sha256sum-{(asset == "k3s" ? "amd64" : "arm64")}.txt";
            expected = await ReadChecksumAsync(version, checksumSource, asset, cancellationToken).ConfigureAwait(false);
        }

        var directory = Path.Combine(versionDirectory, expected);
        var path = Path.Combine(directory, asset);
        if (await IsVerifiedAsync(path, expected, cancellationToken).ConfigureAwait(false))
        {
            _log.Info($"k3s {version}: using the cached {path}");
            return path;
        }

        Directory.CreateDirectory(directory);
        await DownloadAsync(version, assetUrl, path, expected, checksumSource, cancellationToken).ConfigureAwait(false);
        return path;
    }

    private static async Task<string?> FindCachedAsync(string versionDirectory, string asset, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(versionDirectory))
        {
            return null;
        }

        foreach (var directory in Directory.EnumerateDirectories(versionDirectory).Order(StringComparer.Ordinal))
        {
            var path = Path.Combine(directory, asset);
            if (await IsVerifiedAsync(path, Path.GetFileName(directory), cancellationToken).ConfigureAwait(false))
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="path"/> and its stored checksum exist and the file still hashes to <paramref name="sha256"/>.</summary>
    private static async Task<bool> IsVerifiedAsync(string path, string sha256, CancellationToken cancellationToken)
    {
        var stored = path + ".sha256";
        if (!File.Exists(path) || !File.Exists(stored))
        {
            return false;
        }

        var recorded = (await File.ReadAllTextAsync(stored, cancellationToken).ConfigureAwait(false)).Trim();
        if (!string.Equals(recorded, sha256, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        await using var stream = File.OpenRead(path);
        var actual = Convert.ToHexString(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
        return string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase);
    }

    private HttpClient CreateClient() => new(new SocketsHttpHandler { ConnectTimeout = _connectTimeout, AllowAutoRedirect = true })
    {
        Timeout = DownloadTimeout,
    };

    private async Task<string> ReadChecksumAsync(string version, string url, string asset, CancellationToken cancellationToken)
    {
        using var http = CreateClient();
        string text;
        try
        {
            using var response = await http.GetAsync(new Uri(url), cancellationToken).ConfigureAwait(false);
            ThrowUnlessFound(version, url, response);
            text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsTransportFailure(ex, cancellationToken))
        {
            throw Unreachable(version, url, ex);
        }

        // sha256sum's format: "<64 hex>  <file>" (a '*' before the name in binary mode).
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && parts[1].TrimStart('*') == asset && Sha256Hex().IsMatch(parts[0]))
            {
                return parts[0].ToLowerInvariant();
            }
        }

        throw new KubeDindException($"k3s {version}: {url} lists no checksum for {asset}; the release (or the mirror in {ReleaseRootVariable}) is incomplete: pick another version or fix the mirror.");
    }

    private async Task DownloadAsync(string version, string url, string path, string expected, string checksumSource, CancellationToken cancellationToken)
    {
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.part";
        var watch = Stopwatch.StartNew();
        _log.Info($"k3s {version}: downloading {url}");
        try
        {
            string actual;
            long total = 0;
            using (var http = CreateClient())
            {
                try
                {
                    using var response = await http.GetAsync(new Uri(url), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                    ThrowUnlessFound(version, url, response);
                    var length = response.Content.Headers.ContentLength;
                    await using var source = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                    await using var target = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
                    using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    var buffer = new byte[1 << 16];
                    var lastReport = watch.Elapsed;
                    int read;
                    while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                        await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        total += read;
                        if (watch.Elapsed - lastReport > TimeSpan.FromSeconds(5))
                        {
                            lastReport = watch.Elapsed;
                            _log.Info($"k3s {version}: {total / 1_000_000} MB{(length is { } l ? $" of {l / 1_000_000} MB" : string.Empty)} after {watch.Elapsed.TotalSeconds:0} s");
                        }
                    }

                    actual = Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant();
                }
                catch (Exception ex) when (IsTransportFailure(ex, cancellationToken))
                {
                    throw Unreachable(version, url, ex);
                }
            }

            if (actual != expected)
            {
                throw new KubeDindException($"k3s {version}: {url} has sha256 {actual}, but {checksumSource} says {expected}; the download is corrupt or the mirror serves another file: fix the mirror ({ReleaseRootVariable}) or download again.");
            }

            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            }

            // The binary first, then its checksum: a reader that finds the checksum finds a complete binary.
            // Parallel builds each write their own temporary file; the renames are atomic, the last one wins with the same bytes.
            File.Move(temporary, path, overwrite: true);
            var checksumTemporary = $"{path}.sha256.{Environment.ProcessId}.{Guid.NewGuid():N}.part";
            await File.WriteAllTextAsync(checksumTemporary, expected + "\n", cancellationToken).ConfigureAwait(false);
            File.Move(checksumTemporary, path + ".sha256", overwrite: true);
            _log.Info($"k3s {version}: {total / 1_000_000} MB downloaded and verified in {watch.Elapsed.TotalSeconds:0.0} s; cached at {path}");
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    private static void ThrowUnlessFound(string version, string url, HttpResponseMessage response)
    {
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            throw new KubeDindException($"k3s {version}: {url} does not exist (HTTP 404): no such k3s release; pick a version listed on https://github.com/k3s-io/k3s/releases.");
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new KubeDindException($"k3s {version}: {url} answered HTTP {(int)response.StatusCode} {response.ReasonPhrase}; try again later, or supply a k3s binary (K3sBinary).");
        }
    }

    private static bool IsTransportFailure(Exception ex, CancellationToken cancellationToken) =>
        ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested);

    private static KubeDindException Unreachable(string version, string url, Exception ex)
    {
        var reason = ex is TaskCanceledException ? "timed out" : ex.Message.Split('\n')[0];
        return new KubeDindException(
            $"k3s {version}: cannot download {url} ({reason}); offline? set {ReleaseRootVariable} to a reachable mirror, or supply a k3s binary (K3sBinary, {ClusterImage.K3sBinaryVariable}).",
            inner: ex);
    }

    [GeneratedRegex(@"^v1\.[0-9]+\.[0-9]+(-rc[0-9]+)?\+k3s[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex ReleaseName();

    [GeneratedRegex("^[0-9a-fA-F]{64}$", RegexOptions.CultureInvariant)]
    private static partial Regex Sha256Hex();
}

/// <summary>Parsed k3s version (v1.31.6+k3s1): the Kubernetes minor and patch decide what the image writes for it.</summary>
public sealed record K3sVersion(int Major, int Minor, int Patch)
{
    /// <summary>Parses the k3s version the image build recorded (v1.21.2+k3s1); null when it names none.</summary>
    public static K3sVersion? Parse(string? text)
    {
        var match = Regex.Match(text ?? string.Empty, @"^v?([0-9]+)\.([0-9]+)\.([0-9]+)");
        return match.Success
            ? new K3sVersion(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture))
            : null;
    }
}
