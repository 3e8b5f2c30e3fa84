namespace KubeDind.Mirror;

// CONTRACT STUB (helper "mirror" fills in).
public sealed class StartMirror
{
    private readonly KubeDindSession _session;

    public StartMirror(KubeDindSession session) => _session = session;

    public Task<MirrorEndpoints> RunAsync(MirrorSettings settings, CancellationToken cancellationToken) =>
        throw new NotImplementedException($"StartMirror for {settings.Name} in run {_session.RunId}");
}
