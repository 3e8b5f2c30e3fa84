using KubeDind;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Mirror;

namespace Nuke.KubeDind;

/// <summary>The real driver: each call is one call into the core's <see cref="KubeDindSession"/> / <see cref="KubeDindCluster"/>.</summary>
internal sealed class SessionDriver : IKubeDindDriver
{
    private readonly KubeDindSession _session;
    private KubeDindCluster? _cluster;
    private bool _keep;

    private SessionDriver(KubeDindSession session) => _session = session;

    public string RunId => _session.RunId;

    public static async Task<IKubeDindDriver> ConnectAsync(IKubeDindLog log, CancellationToken cancellationToken) =>
        new SessionDriver(await KubeDindSession.ConnectAsync(log, cancellationToken: cancellationToken).ConfigureAwait(false));

    public Task<MirrorEndpoints> StartMirrorAsync(MirrorSettings settings, CancellationToken cancellationToken) =>
        _session.StartMirrorAsync(settings, cancellationToken);

    public async Task<KubeDindEndpoints> StartClusterAsync(ClusterSettings settings, string? k3sBinary, CancellationToken cancellationToken)
    {
        if (k3sBinary is not null)
        {
            var image = await ClusterImage.EnsureAsync(_session, new ClusterImageSettings { K3sBinary = k3sBinary }, cancellationToken).ConfigureAwait(false);
            settings = settings with { Image = settings.Image ?? image.Tag };
        }

        _cluster = await _session.StartClusterAsync(settings, cancellationToken).ConfigureAwait(false);
        return new KubeDindEndpoints(_cluster.Name, _cluster.KubeconfigPath, _cluster.RegistryHostEndpoint, _cluster.RegistryClusterEndpoint);
    }

    public async Task<string> PushImageAsync(KubeDindImage image, CancellationToken cancellationToken)
    {
        var cluster = RequireCluster();
        if (image.Context is not null)
        {
            var store = new ImageStore(_session.Docker, _session.Log);
            var labels = KubeDindLabels.ForResource("app-image", _session.RunId);
            await store.BuildAsync(BuildContext.FromDirectory(image.Context), image.Tag, new Dictionary<string, string>(image.BuildArgs), new Dictionary<string, string>(labels), cancellationToken).ConfigureAwait(false);
        }

        return await cluster.PushImageAsync(image.Tag, cancellationToken).ConfigureAwait(false);
    }

    public Task DeployAsync(KubeDindDeployment deployment, CancellationToken cancellationToken) =>
        RequireCluster().DeployAsync(
            new global::KubeDind.Deploy.DeploySettings
            {
                Manifests = deployment.Manifests,
                Namespace = deployment.Namespace,
                ReadinessTimeout = deployment.ReadinessTimeout,
            },
            cancellationToken);

    public Task CollectDiagnosticsAsync(string directory, CancellationToken cancellationToken) =>
        RequireCluster().CollectDiagnosticsAsync(directory, cancellationToken);

    public async Task TeardownAsync(bool keep, CancellationToken cancellationToken)
    {
        _keep = keep;
        if (_cluster is null)
        {
            return;
        }

        if (keep)
        {
            _session.Log.Info($"Keeping cluster {_cluster.Name} (--keep-cluster): kubeconfig {_cluster.KubeconfigPath}");
            return;
        }

        await _cluster.TeardownAsync(cancellationToken).ConfigureAwait(false);
        _cluster = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null && !_keep)
        {
            await _cluster.DisposeAsync().ConfigureAwait(false);
        }

        await _session.DisposeAsync().ConfigureAwait(false);
    }

    private KubeDindCluster RequireCluster() =>
        _cluster ?? throw new KubeDindException("No KubeDind cluster is running in this build: run the StartCluster target first.");
}
