using System.Runtime.InteropServices;
using KubeDind.Cluster;
using KubeDind.Logging;

[assembly: AssemblyFixture(typeof(KubeDind.Tests.Cluster.TestK3s))]

namespace KubeDind.Tests.Cluster;

/// <summary>
/// The k3s the Kubernetes tests run on, decided once per test process before any test: KUBEDIND_K3S_BINARY when set;
/// otherwise the pinned release through the product's own download (host cache first, a short connect timeout), which
/// then becomes KUBEDIND_K3S_BINARY for every test and for the core. Offline with nothing given, the Kubernetes tests
/// skip with <see cref="SkipReason"/>, and finding that out costs a few seconds at most.
/// </summary>
public sealed class TestK3s : IAsyncLifetime
{
    /// <summary>Why there is no k3s (naming both ways to get one); null when there is one.</summary>
    public static string? SkipReason { get; private set; }

    public async ValueTask InitializeAsync()
    {
        if (ClusterImage.K3sBinaryFromEnvironment() is not null)
        {
            return;
        }

        var architecture = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "aarch64" : "x86_64";
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            var download = new K3sDownload(new ConsoleKubeDindLog(KubeDindLogLevel.Warning), connectTimeout: TimeSpan.FromSeconds(3));
            var path = await download.GetAsync(null, architecture, timeout.Token);
            Environment.SetEnvironmentVariable(ClusterImage.K3sBinaryVariable, path);
        }
        catch (KubeDindException ex)
        {
            SkipReason = $"no k3s: {ClusterImage.K3sBinaryVariable} is unset and the pinned k3s {K3sDownload.PinnedVersion} cannot be downloaded ({ex.Message})";
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
