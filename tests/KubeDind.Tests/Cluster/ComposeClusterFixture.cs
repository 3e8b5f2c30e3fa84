using KubeDind.Cluster;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// One compose-mode cluster shared by the tests of the "Cluster" collection (the machine has 2 cores: start it
/// once). Its session is fresh, so its start shows whether the privilege fallback ran.
/// </summary>
public sealed class ComposeClusterFixture : IAsyncLifetime
{
    public CapturingLog Log { get; } = new();

    public KubeDindSession Session { get; private set; } = null!;

    public KubeDindCluster Cluster { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Session = await KubeDindSession.ConnectAsync(Log);
        Cluster = await Session.StartClusterAsync(ClusterTestSupport.ComposeSettings("shared"));
    }

    public async ValueTask DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }

        Session?.Dispose();
    }
}

[CollectionDefinition("Cluster")]
public sealed class ClusterCollection : ICollectionFixture<ComposeClusterFixture>
{
}
