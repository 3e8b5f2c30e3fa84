namespace KubeDind.Cluster;

// CONTRACT STUB (helper "cluster" fills in).
public sealed record SweepSettings
{
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromHours(6);
}

public sealed record SweepResult(IReadOnlyList<string> RemovedContainers, IReadOnlyList<string> RemovedVolumes, IReadOnlyList<string> RemovedNetworks);

public sealed class Sweep
{
    private readonly KubeDindSession _session;

    public Sweep(KubeDindSession session) => _session = session;

    public Task<SweepResult> RunAsync(SweepSettings settings, CancellationToken cancellationToken) =>
        throw new NotImplementedException($"Sweep older than {settings.MaxAge} in run {_session.RunId}");
}
