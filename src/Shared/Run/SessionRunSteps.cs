using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Docker;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Logging;
using KubeDind.Mirror;

namespace KubeDind.Run;

/// <summary>The real steps: each call is one call into the core's <see cref="KubeDindSession"/> / <see cref="KubeDindCluster"/>.</summary>
public sealed class SessionRunSteps : IKubeDindRunSteps
{
    private readonly KubeDindSession _session;
    private bool _keep;

    private readonly bool _ownsSession;

    private SessionRunSteps(KubeDindSession session, bool ownsSession)
    {
        _session = session;
        _ownsSession = ownsSession;
    }

    /// <summary>Steps on a session the caller keeps (and disposes): a front end whose other steps share it.</summary>
    public static IKubeDindRunSteps On(KubeDindSession session)
    {
        ArgumentNullException.ThrowIfNull(session);
        return new SessionRunSteps(session, ownsSession: false);
    }

    public KubeDindCluster? Cluster { get; private set; }

    /// <summary>The cluster later steps go to: the started one, or the existing one connected to.</summary>
    private IClusterHandle? Handle { get; set; }

    public static async Task<IKubeDindRunSteps> ConnectAsync(IKubeDindLog log, CancellationToken cancellationToken) =>
        new SessionRunSteps(await KubeDindSession.ConnectAsync(log, cancellationToken: cancellationToken).ConfigureAwait(false), ownsSession: true);

    public RunTimeline Timeline => _session.Timeline;

    public IReadOnlyDictionary<string, string> PushedImages => Cluster?.Images ?? new Dictionary<string, string>();

    public Task<KubeDindMirror> StartMirrorAsync(MirrorSettings settings, CancellationToken cancellationToken) =>
        _session.StartMirrorAsync(settings, cancellationToken);

    public async Task<KubeDindEndpoints> StartClusterAsync(ClusterSettings settings, CancellationToken cancellationToken)
    {
        var cluster = await _session.StartClusterAsync(settings, cancellationToken).ConfigureAwait(false);
        Cluster = cluster;
        Handle = cluster;
        return new KubeDindEndpoints(cluster.Name, cluster.KubeconfigPath, cluster.RegistryHostEndpoint, cluster.RegistryClusterName);
    }

    public async Task<KubeDindEndpoints> ConnectAsync(ExistingClusterSettings settings, CancellationToken cancellationToken)
    {
        var existing = await _session.ConnectClusterAsync(settings, cancellationToken).ConfigureAwait(false);
        Handle = existing;
        return new KubeDindEndpoints(existing.Name, existing.KubeconfigPath, settings.Registry ?? string.Empty, settings.RegistryPullName ?? settings.Registry ?? string.Empty);
    }

    public async Task BuildImageAsync(KubeDindImage image, CancellationToken cancellationToken) =>
        await _session.BuildImageAsync(image, cancellationToken).ConfigureAwait(false);

    public async Task<string> PushImageAsync(KubeDindImage image, CancellationToken cancellationToken)
    {
        var cluster = RequireCluster();
        ArgumentNullException.ThrowIfNull(image);
        if (image.IsBuilt)
        {
            await _session.BuildImageAsync(image, cancellationToken).ConfigureAwait(false);
        }

        return await cluster.PushImageAsync(image.Tag, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async Task DeployAsync(DeploySettings settings, CancellationToken cancellationToken) =>
        await RequireCluster().DeployAsync(settings, cancellationToken).ConfigureAwait(false);

    public async Task<string?> CollectDiagnosticsAsync(CancellationToken cancellationToken) => Handle switch
    {
        KubeDindCluster { HasKubernetes: false } or null => null,
        { } handle => (await handle.CollectDiagnosticsAsync(cancellationToken).ConfigureAwait(false)).Directory,
    };

    public async Task TeardownAsync(bool keep, CancellationToken cancellationToken)
    {
        _keep = keep;
        if (Handle is not null and not KubeDindCluster)
        {
            if (keep)
            {
                _session.Log.Info($"keeping what this run created on {Handle.Name} (keep cluster): namespace {Handle.DefaultNamespace}");
                return;
            }

            // An existing cluster stays; only what this run created there (a throwaway namespace) goes.
            await Handle.TeardownAsync(cancellationToken).ConfigureAwait(false);
            Handle = null;
            return;
        }

        if (Cluster is not { } cluster)
        {
            return;
        }

        if (keep)
        {
            _session.Log.Info($"keeping cluster {cluster.Name} (keep cluster): kubeconfig {cluster.KubeconfigPath ?? "none (compose mode)"}, registry {cluster.RegistryHostEndpoint}; remove it with: docker rm -f {cluster.Name}");
            return;
        }

        await cluster.TeardownAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        Cluster = null;
        Handle = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (Handle is not null && !_keep)
        {
            await Handle.DisposeAsync().ConfigureAwait(false);
        }

        if (_ownsSession)
        {
            await _session.DisposeAsync().ConfigureAwait(false);
        }
    }

    private IClusterHandle RequireCluster() =>
        Handle ?? throw new KubeDindException("No KubeDind cluster is running in this run: start or connect one (StartCluster) first.");
}
