namespace KubeDind.Cluster;

// CONTRACT STUB (helper "cluster" fills in).
public sealed class StartCluster
{
    private readonly KubeDindSession _session;

    public StartCluster(KubeDindSession session) => _session = session;

    public Task<KubeDindCluster> RunAsync(ClusterSettings settings, CancellationToken cancellationToken) =>
        throw new NotImplementedException($"StartCluster {settings.Name} in run {_session.RunId}");
}
