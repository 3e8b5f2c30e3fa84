using KubeDind.Cluster;

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

    private static readonly Lazy<Task> Decided = new(DecideAsync);

    /// <summary>Decides once per process, for every assembly fixture that needs the answer before the tests run.</summary>
    public static Task EnsureAsync() => Decided.Value;

    public async ValueTask InitializeAsync() => await EnsureAsync();

    private static async Task DecideAsync()
    {
        if (ClusterImage.K3sBinaryFromEnvironment() is not null)
        {
            return;
        }

        var (path, failure) = await K3sDownload.PinnedForTestsAsync();
        if (path is not null)
        {
            Environment.SetEnvironmentVariable(ClusterImage.K3sBinaryVariable, path);
        }
        else
        {
            SkipReason = $"no k3s: {ClusterImage.K3sBinaryVariable} is unset and the pinned k3s {K3sDownload.PinnedVersion} cannot be downloaded ({failure})";
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
