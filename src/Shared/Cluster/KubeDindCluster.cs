namespace KubeDind.Cluster;

// CONTRACT STUB (helper "cluster" fills in).
public sealed class KubeDindCluster : IAsyncDisposable
{
    public required string Name { get; init; }

    public required string ContainerId { get; init; }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
