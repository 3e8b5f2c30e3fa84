using KubeDind.Cluster;
using KubeDind.Logging;
using KubeDind.Tests.Cluster;
using Xunit.Sdk;

namespace KubeDind.Tests.Image;

/// <summary>
/// ClusterSettings.K3sVersion end to end, as far as a machine without github.com allows: the image build downloads the
/// release from a release layout served on 127.0.0.1 (KUBEDIND_K3S_DOWNLOAD_URL's setting), verifies it and builds the
/// image around it; a wrong checksum stops the build before it starts, in one line.
/// </summary>
public sealed class K3sVersionImageTests(ITestOutputHelper output) : IDisposable
{
    private const string Version = "v1.21.2+k3s1";
    private readonly string _cache = Path.Combine(Path.GetTempPath(), $"kdt-k3s-image-cache-{Guid.NewGuid():N}");
    private readonly string? _previousCache = Environment.GetEnvironmentVariable(K3sDownload.CacheVariable);

    [Fact]
    public async Task A_k3s_version_is_downloaded_verified_and_built_into_an_image_labelled_with_it_and_a_wrong_checksum_stops_the_build()
    {
        var k3s = ClusterTestSupport.K3sBinary ?? throw SkipException.ForSkip(ClusterTestSupport.NoK3sReason);

        var ct = TestContext.Current.CancellationToken;
        Environment.SetEnvironmentVariable(K3sDownload.CacheVariable, _cache);
        await using var session = await KubeDindSession.ConnectAsync(new ConsoleKubeDindLog(), cancellationToken: ct);
        string? tag = null;
        try
        {
            using (var release = LocalK3sRelease.Start(Version, k3s))
            {
                var image = await ClusterImage.EnsureAsync(session, new ClusterImageSettings { K3sVersion = Version, K3sDownloadUrl = release.Root }, ct);
                tag = image.Tag;
                output.WriteLine($"{image.Tag}: {image.Describe()}");
                Assert.Equal(Version, image.K3sVersion);
                Assert.Contains("-k3s-v1.21.2-k3s1-", image.Tag, StringComparison.Ordinal);
                Assert.Contains("/v1.21.2%2Bk3s1/k3s", release.Requests);
            }

            using var wrong = LocalK3sRelease.Start(Version, k3s, checksumLine: $"{new string('f', 64)}  k3s\n");
            Directory.Delete(_cache, recursive: true);
            var error = await Assert.ThrowsAsync<KubeDindException>(() => ClusterImage.EnsureAsync(session, new ClusterImageSettings { K3sVersion = Version, K3sDownloadUrl = wrong.Root }, ct));
            output.WriteLine(error.Message);
            Assert.StartsWith($"kube-dind image: k3s {Version}: {wrong.Root}/v1.21.2%2Bk3s1/k3s has sha256 ", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error.Message);
        }
        finally
        {
            if (tag is not null)
            {
                await ClusterTestSupport.RemoveImageAsync(session, tag);
            }
        }
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(K3sDownload.CacheVariable, _previousCache);
        if (Directory.Exists(_cache))
        {
            Directory.Delete(_cache, recursive: true);
        }
    }
}
