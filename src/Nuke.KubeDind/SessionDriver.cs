using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Mirror;

namespace Nuke.KubeDind;

/// <summary>The real driver: each call is one call into the core's <see cref="KubeDindSession"/> / <see cref="KubeDindCluster"/>.</summary>
internal sealed class SessionDriver : IKubeDindDriver
{
    private readonly KubeDindSession _session;
    private bool _keep;

    private SessionDriver(KubeDindSession session) => _session = session;

    public string RunId => _session.RunId;

    public KubeDindCluster? Cluster { get; private set; }

    public static async Task<IKubeDindDriver> ConnectAsync(IKubeDindLog log, CancellationToken cancellationToken) =>
        new SessionDriver(await KubeDindSession.ConnectAsync(log, cancellationToken: cancellationToken).ConfigureAwait(false));

    public Task<KubeDindMirror> StartMirrorAsync(MirrorSettings settings, CancellationToken cancellationToken) =>
        _session.StartMirrorAsync(settings, cancellationToken);

    public async Task<KubeDindEndpoints> StartClusterAsync(ClusterSettings settings, CancellationToken cancellationToken)
    {
        var cluster = await _session.StartClusterAsync(settings, cancellationToken).ConfigureAwait(false);
        Cluster = cluster;
        return new KubeDindEndpoints(cluster.Name, cluster.KubeconfigPath, cluster.RegistryHostEndpoint, cluster.RegistryClusterName);
    }

    public async Task<string> PushImageAsync(KubeDindImage image, CancellationToken cancellationToken)
    {
        var cluster = RequireCluster();
        if (image.Context is not null)
        {
            var buildArgs = new Dictionary<string, string>(image.BuildArgs);
            if (image.BaseImageBuildArg is { Length: > 0 } baseImageArg)
            {
                buildArgs[baseImageArg] = await new BaseImage(_session.Docker, _session.Log).EnsureAsync(cancellationToken).ConfigureAwait(false);
            }

            var store = new ImageStore(_session.Docker, _session.Log);
            var labels = KubeDindLabels.ForResource("app-image", _session.RunId);
            await store.BuildAsync(BuildContext.FromDirectory(image.Context), image.Tag, buildArgs, labels, cancellationToken).ConfigureAwait(false);
        }

        return await cluster.PushImageAsync(image.Tag, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async Task DeployAsync(DeploySettings settings, CancellationToken cancellationToken) =>
        await RequireCluster().DeployAsync(settings, cancellationToken).ConfigureAwait(false);

    public async Task<string?> CollectDiagnosticsAsync(CancellationToken cancellationToken) =>
        Cluster is { HasKubernetes: true } cluster ? (await cluster.CollectDiagnosticsAsync(cancellationToken).ConfigureAwait(false)).Directory : null;

    public async Task TeardownAsync(bool keep, CancellationToken cancellationToken)
    {
        _keep = keep;
        if (Cluster is not { } cluster)
        {
            return;
        }

        if (keep)
        {
            _session.Log.Info($"keeping cluster {cluster.Name} (--keep-cluster): kubeconfig {cluster.KubeconfigPath ?? "none (compose mode)"}, registry {cluster.RegistryHostEndpoint}; remove it with: docker rm -f {cluster.Name}");
            return;
        }

        await cluster.TeardownAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        Cluster = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (Cluster is not null && !_keep)
        {
            await Cluster.DisposeAsync().ConfigureAwait(false);
        }

        await _session.DisposeAsync().ConfigureAwait(false);
    }

    private KubeDindCluster RequireCluster() =>
        Cluster ?? throw new KubeDindException("No KubeDind cluster is running in this build: run the StartCluster target first.");
}
