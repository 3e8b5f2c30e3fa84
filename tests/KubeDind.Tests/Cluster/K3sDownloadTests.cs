using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using KubeDind.Cluster;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// The k3s download against a release layout served from 127.0.0.1 (<see cref="LocalK3sRelease"/>): the real HTTP,
/// checksum and cache code, with the toolchain k3s (or, without one, a stand-in file: the download never runs it).
/// </summary>
public sealed class K3sDownloadTests : IDisposable
{
    private const string Version = "v1.21.2+k3s1";
    private readonly string _cache = Path.Combine(Path.GetTempPath(), $"kdt-k3s-cache-{Guid.NewGuid():N}");
    private readonly CapturingLog _log = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_release_is_downloaded_verified_against_its_checksum_file_and_then_served_from_the_cache()
    {
        using var release = LocalK3sRelease.Start(Version, ReleaseBinary());
        var download = new K3sDownload(_log, release.Root, _cache);

        var path = await download.GetAsync(Version, "x86_64", Ct);

        Assert.Equal(Path.Combine(_cache, "k3s", Version, release.Sha256, "k3s"), path);
        Assert.Equal(release.Sha256, Convert.ToHexString(SHA256.HashData(await File.ReadAllBytesAsync(path, Ct))).ToLowerInvariant());
        Assert.Equal(release.Sha256, (await File.ReadAllTextAsync(path + ".sha256", Ct)).Trim());
        Assert.Equal(["/v1.21.2%2Bk3s1/sha256sum-amd64.txt", "/v1.21.2%2Bk3s1/k3s"], release.Requests);
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(path)!, "*.part"));

        var again = await download.GetAsync(Version, "x86_64", Ct);

        Assert.Equal(path, again);
        Assert.Equal(2, release.Requests.Count);
        Assert.Contains(_log.Lines, l => l.Message.Contains("using the cached", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_checksum_mismatch_fails_in_one_line_naming_the_version_and_the_url()
    {
        using var release = LocalK3sRelease.Start(Version, ReleaseBinary(), checksumLine: $"{new string('0', 64)}  k3s\n");

        var error = await Assert.ThrowsAsync<KubeDindException>(() => new K3sDownload(_log, release.Root, _cache).GetAsync(Version, "x86_64", Ct));

        Assert.Contains($"k3s {Version}: {release.Root}/v1.21.2%2Bk3s1/k3s has sha256 {release.Sha256}", error.Message);
        Assert.Contains("sha256sum-amd64.txt says 0000", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.False(Directory.Exists(Path.Combine(_cache, "k3s", Version)) && Directory.EnumerateFiles(Path.Combine(_cache, "k3s", Version), "*", SearchOption.AllDirectories).Any());
    }

    [Fact]
    public async Task A_release_that_does_not_exist_fails_in_one_line_naming_the_version_and_the_url()
    {
        using var release = LocalK3sRelease.Start(Version, ReleaseBinary());

        var error = await Assert.ThrowsAsync<KubeDindException>(() => new K3sDownload(_log, release.Root, _cache).GetAsync("v1.99.0+k3s1", "x86_64", Ct));

        Assert.Equal($"k3s v1.99.0+k3s1: {release.Root}/v1.99.0%2Bk3s1/sha256sum-amd64.txt does not exist (HTTP 404): no such k3s release; pick a version listed on https://github.com/k3s-io/k3s/releases.", error.Message);
    }

    [Fact]
    public async Task A_checksum_file_without_the_asset_fails_in_one_line_naming_the_version_and_the_url()
    {
        using var release = LocalK3sRelease.Start(Version, ReleaseBinary(), checksumLine: $"{new string('1', 64)}  k3s-airgap-images-amd64.tar\n");

        var error = await Assert.ThrowsAsync<KubeDindException>(() => new K3sDownload(_log, release.Root, _cache).GetAsync(Version, "x86_64", Ct));

        Assert.StartsWith($"k3s {Version}: {release.Root}/v1.21.2%2Bk3s1/sha256sum-amd64.txt lists no checksum for k3s;", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task An_unreachable_release_root_fails_in_one_line_naming_the_url_and_what_to_do()
    {
        // A port nothing listens on: the connection is refused at once.
        var root = $"http://127.0.0.1:{LocalK3sRelease.FreePort()}";

        var error = await Assert.ThrowsAsync<KubeDindException>(() => new K3sDownload(_log, root, _cache, TimeSpan.FromSeconds(2)).GetAsync(Version, "x86_64", Ct));

        Assert.StartsWith($"k3s {Version}: cannot download {root}/v1.21.2%2Bk3s1/sha256sum-amd64.txt (", error.Message);
        Assert.Contains("KUBEDIND_K3S_DOWNLOAD_URL", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Theory]
    [InlineData("1.31.4")]
    [InlineData("v1.31")]
    [InlineData("latest")]
    [InlineData("v1.31.4-k3s1")]
    [InlineData("v1.31.4+k3s1 ")]
    public void A_bad_version_string_fails_in_one_line_naming_it_and_the_releases_page(string version)
    {
        var error = Assert.Throws<KubeDindException>(() => K3sDownload.CheckVersion(version));

        Assert.Equal($"k3s version '{version}' is not a k3s release name; write it as on https://github.com/k3s-io/k3s/releases, e.g. v1.31.4+k3s1.", error.Message);
    }

    [Theory]
    [InlineData("v1.21.2+k3s1")]
    [InlineData("v1.33.7+k3s1")]
    [InlineData("v1.32.0-rc1+k3s1")]
    public void Release_names_pass(string version) => K3sDownload.CheckVersion(version);

    [Theory]
    [InlineData("x86_64", "k3s")]
    [InlineData("aarch64", "k3s-arm64")]
    [InlineData("armv7l", null)]
    public void The_asset_follows_the_engines_architecture(string architecture, string? asset) =>
        Assert.Equal(asset, K3sDownload.AssetFor(architecture));

    public void Dispose()
    {
        if (Directory.Exists(_cache))
        {
            Directory.Delete(_cache, recursive: true);
        }
    }

    private string ReleaseBinary()
    {
        if (ClusterTestSupport.K3sBinary is { } k3s)
        {
            return k3s;
        }

        var standIn = Path.Combine(_cache, "stand-in-k3s");
        Directory.CreateDirectory(_cache);
        File.WriteAllBytes(standIn, RandomNumberGenerator.GetBytes(3_000_000));
        return standIn;
    }
}

/// <summary>
/// A k3s release layout on 127.0.0.1 (<c>/&lt;version, + as %2B&gt;/k3s</c> and <c>/&lt;version&gt;/sha256sum-amd64.txt</c>), for
/// the download code to run against; every other path answers 404. Records the paths asked for.
/// </summary>
public sealed class LocalK3sRelease : IDisposable
{
    private readonly HttpListener _listener;
    private readonly byte[] _binary;
    private readonly string _checksums;
    private readonly string _versionPath;
    private readonly List<string> _requests = [];
    private readonly Task _serving;

    private LocalK3sRelease(HttpListener listener, string root, string version, byte[] binary, string? checksumLine)
    {
        _listener = listener;
        _binary = binary;
        Root = root;
        Sha256 = Convert.ToHexString(SHA256.HashData(binary)).ToLowerInvariant();
        _checksums = checksumLine ?? $"{new string('a', 64)}  k3s-airgap-images-amd64.tar\n{Sha256}  k3s\n";
        _versionPath = "/" + Uri.EscapeDataString(version);
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>The release root URL (no trailing slash).</summary>
    public string Root { get; }

    /// <summary>The served binary's SHA-256 (lower-case hex).</summary>
    public string Sha256 { get; }

    public IReadOnlyList<string> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <param name="version">The release served.</param>
    /// <param name="binaryPath">The file served as the asset k3s.</param>
    /// <param name="checksumLine">The checksum file's text; null = a correct one (with another asset's line before it).</param>
    public static LocalK3sRelease Start(string version, string binaryPath, string? checksumLine = null)
    {
        var port = FreePort();
        var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        return new LocalK3sRelease(listener, $"http://127.0.0.1:{port}", version, File.ReadAllBytes(binaryPath), checksumLine);
    }

    public static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _listener.Close();
        try
        {
            _serving.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var path = context.Request.RawUrl ?? string.Empty;
            lock (_requests)
            {
                _requests.Add(path);
            }

            byte[]? body = path == _versionPath + "/k3s" ? _binary
                : path == _versionPath + "/sha256sum-amd64.txt" ? System.Text.Encoding.UTF8.GetBytes(_checksums)
                : null;
            try
            {
                context.Response.StatusCode = body is null ? 404 : 200;
                if (body is not null)
                {
                    context.Response.ContentLength64 = body.Length;
                    await context.Response.OutputStream.WriteAsync(body);
                }

                context.Response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException)
            {
                // The client went away (a test that failed early).
            }
        }
    }
}
