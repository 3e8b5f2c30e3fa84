using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// The k3s cluster (KUBEDIND_K3S_BINARY) the whole test assembly shares, with the offline base image pushed: a test
/// that uses it deploys into a namespace of its own and changes nothing cluster-wide, so that test classes on it run
/// side by side. A test that must change the cluster (its StorageClasses, its components, its nodes) or time its start
/// starts a cluster of its own. One cluster instead of one per class: each k3s start costs a 2-core host most of a
/// minute of CPU, and several at once starve each other.
/// </summary>
public sealed class RealClusterFixture : IAsyncLifetime
{
    /// <summary>A registry name the cluster's containerd sends to <see cref="PrivateRegistryPort"/> inside the cluster container.</summary>
    public const string PrivateRegistry = "kdt-private.test:5001";

    public const int PrivateRegistryPort = 5099;

    /// <summary>A node port the cluster publishes on a free host port (for the service access tests).</summary>
    public const int NodePort = 30080;

    /// <summary>Every line the fixture's session logs, the cluster's start and each test's steps on it.</summary>
    public CapturingLog Log { get; } = new();

    public KubeDindSession? Session { get; private set; }

    /// <summary>The shared cluster; null without a k3s (tests skip). Throws, for the tests that use it only, when it could not start.</summary>
    public KubeDindCluster? Cluster => _startFailure is null
        ? _cluster
        : throw new InvalidOperationException($"the shared test cluster did not start: {_startFailure.Message}\n{(_startFailure as KubeDindException)?.Details}", _startFailure);

    /// <summary>The base image as the cluster pulls it (localhost:5000/...).</summary>
    public string Image { get; private set; } = string.Empty;

    private KubeDindCluster? _cluster;

    private Exception? _startFailure;

    public string Artifacts { get; } = Path.Combine(Path.GetTempPath(), "kdt-realff-" + Guid.NewGuid().ToString("N")[..8]);

    public async ValueTask InitializeAsync()
    {
        await TestK3s.EnsureAsync();
        if (ClusterTestSupport.K3sBinary is null)
        {
            return;
        }

        Session = await KubeDindSession.ConnectAsync(Log);
        try
        {
            await StartAsync(Session);
        }
        catch (KubeDindException ex)
        {
            // Not thrown from here: an assembly fixture that throws fails every test, the unit tests too.
            _startFailure = ex;
        }
    }

    private async Task StartAsync(KubeDindSession session)
    {
        _cluster = await session.StartClusterAsync(new ClusterSettings
        {
            Name = ClusterTestSupport.UniqueName("shared-k3s"),
            ArtifactsDirectory = Artifacts,
            ReadinessTimeout = TimeSpan.FromMinutes(5),

            // A registry that refuses every pull (401): the unauthorized-pull test serves it inside the cluster container.
            RegistryMirrors = new Dictionary<string, IReadOnlyList<string>> { [PrivateRegistry] = [$"http://127.0.0.1:{PrivateRegistryPort}"] },
            Ports = [new PortMapping(NodePort)],
        });
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(CancellationToken.None);
        Image = await _cluster.PushImageAsync(baseImage);
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        if (Session is not null)
        {
            await Session.DisposeAsync();
        }

        if (Directory.Exists(Artifacts))
        {
            Directory.Delete(Artifacts, recursive: true);
        }
    }
}
