using System.Collections.Concurrent;
using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Docker;
using KubeDind.Images;
using KubeDind.Logging;
using Xunit;

namespace KubeDind.Testing;

/// <summary>
/// An xunit v3 fixture that starts one KubeDind cluster, pushes <see cref="KubeDindFixtureSettings.Images"/>, deploys
/// <see cref="KubeDindFixtureSettings.Deploy"/>, opens <see cref="KubeDindFixtureSettings.Services"/> and tears it all
/// down when the fixture is disposed. Use it assembly-wide (<c>[assembly: AssemblyFixture(typeof(MyCluster))]</c>) or
/// per collection (<c>ICollectionFixture&lt;MyCluster&gt;</c>) so the cluster starts once per test run:
/// <code>
/// public sealed class MyCluster() : KubeDindFixture(new KubeDindFixtureSettings
/// {
///     Images = [new FixtureImage("my-app:dev", "artifacts/publish")],
///     Deploy = new DeploySettings { Manifests = ["deploy"] },
///     Services = [new FixtureService("my-app")],
/// });
/// </code>
/// Where the cluster cannot run (no k3s binary), every member a test uses reports the test skipped with the reason.
/// Put <see cref="KubeDindDiagnosticsAttribute"/> on the test classes to get a diagnostics bundle in a failed test's output.
/// </summary>
public class KubeDindFixture : IAsyncLifetime
{
    private static readonly ConcurrentDictionary<KubeDindFixture, byte> Running = new();
    private readonly Dictionary<(string Service, string Port, string Namespace), ServiceEndpoint> _services = [];
    private KubeDindSession? _session;
    private KubeDindCluster? _cluster;

    public KubeDindFixture(KubeDindFixtureSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
    }

    public KubeDindFixtureSettings Settings { get; private set; }

    /// <summary>Why the cluster was not started here (the tests that use it are skipped), or null.</summary>
    public string? SkipReason { get; private set; }

    /// <summary>Every line KubeDind logged while starting and tearing down.</summary>
    public FixtureLog Log { get; } = new();

    /// <summary>The running cluster; skips the calling test when it could not run here.</summary>
    public KubeDindCluster Cluster => RequireCluster();

    /// <summary>A client for the cluster's API.</summary>
    public IKubernetes Kubernetes => Cluster.Kubernetes;

    /// <summary>The per-run kubeconfig (for kubectl or a client of your own).</summary>
    public string KubeconfigPath => Cluster.KubeconfigPath ?? throw new InvalidOperationException("the cluster runs in compose mode and has no kubeconfig.");

    /// <summary>Images pushed at start: host name → the reference pods use.</summary>
    public IReadOnlyDictionary<string, string> Images => Cluster.Images;

    /// <summary>Fixtures started in this process and not yet disposed (what <see cref="KubeDindDiagnosticsAttribute"/> reports on).</summary>
    internal static IEnumerable<KubeDindFixture> Started => Running.Keys;

    /// <summary>The host URL of a service opened at start (<see cref="KubeDindFixtureSettings.Services"/>).</summary>
    public Uri ServiceUrl(string service, string port = "http", string @namespace = "default")
    {
        RequireCluster();
        return _services.TryGetValue((service, port, @namespace), out var endpoint)
            ? endpoint.Url
            : throw new InvalidOperationException($"service {@namespace}/{service}:{port} was not opened at start; add new FixtureService(\"{service}\", \"{port}\", \"{@namespace}\") to KubeDindFixtureSettings.Services, or call OpenServiceAsync.");
    }

    /// <summary>Opens another service port now; dispose the endpoint when done.</summary>
    public Task<ServiceEndpoint> OpenServiceAsync(string service, string port = "http", string @namespace = "default", CancellationToken cancellationToken = default) =>
        Cluster.OpenServiceAsync(service, port, @namespace, cancellationToken: cancellationToken);

    /// <summary>
    /// Writes a diagnostics bundle and puts its summary (likely causes, where the bundle is, the newest events) into
    /// <paramref name="output"/>; a failure to collect is reported there too, never thrown.
    /// </summary>
    public async Task<DiagnosticsBundle?> WriteDiagnosticsAsync(ITestOutputHelper? output, CancellationToken cancellationToken = default)
    {
        if (_cluster is not { HasKubernetes: true } cluster)
        {
            return null;
        }

        try
        {
            var bundle = await cluster.CollectDiagnosticsAsync(cancellationToken).ConfigureAwait(false);
            output?.WriteLine($"KubeDind diagnostics for cluster {cluster.Name}: {bundle.Directory}");
            if (bundle.ReportPath is { } report)
            {
                output?.WriteLine($"KubeDind report: {report}");
            }

            foreach (var line in bundle.Summary)
            {
                output?.WriteLine("  " + line);
            }

            foreach (var file in new[] { "pods.txt", "events.txt" })
            {
                var path = Path.Combine(bundle.Directory, file);
                if (File.Exists(path))
                {
                    var lines = await File.ReadAllLinesAsync(path, cancellationToken).ConfigureAwait(false);
                    output?.WriteLine($"--- {file} (last {Math.Min(40, lines.Length)} lines)");
                    foreach (var line in lines.TakeLast(40))
                    {
                        output?.WriteLine(line);
                    }
                }
            }

            return bundle;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            output?.WriteLine($"KubeDind could not collect diagnostics for cluster {cluster.Name}: {ex.Message.Split('\n')[0]}");
            return null;
        }
    }

    public async ValueTask InitializeAsync()
    {
        if (KubeDindFixtureSettings.NeedsK3s(Settings) && (await K3sDownload.PinnedForTestsAsync().ConfigureAwait(false)).Path is { } pinned)
        {
            // Nothing named a k3s: the pinned release, downloaded once (or found in the host cache), serves these tests.
            Settings = Settings with { Cluster = Settings.Cluster with { ImageBuild = (Settings.Cluster.ImageBuild ?? new ClusterImageSettings()) with { K3sBinary = pinned } } };
        }

        SkipReason = Settings.SkipWhen(Settings);
        if (SkipReason is not null)
        {
            Log.Write(KubeDindLogLevel.Warning, "KubeDind fixture skipped: " + SkipReason);
            return;
        }

        var cancellationToken = TestContext.Current.CancellationToken;
        _session = await KubeDindSession.ConnectAsync(Log, cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            var clusterSettings = Settings.Cluster;
            if (Settings.UseMirror)
            {
                clusterSettings = clusterSettings.WithMirror(await _session.StartMirrorAsync(Settings.Mirror, cancellationToken).ConfigureAwait(false));
            }

            _cluster = await _session.StartClusterAsync(clusterSettings, cancellationToken).ConfigureAwait(false);
            Running[this] = 0;
            foreach (var image in Settings.Images)
            {
                await BuildAsync(_session, image, cancellationToken).ConfigureAwait(false);
                await _cluster.PushImageAsync(image.Tag, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            if (Settings.Deploy is { } deploy)
            {
                await _cluster.DeployAsync(deploy, cancellationToken).ConfigureAwait(false);
            }

            foreach (var service in Settings.Services)
            {
                var endpoint = await _cluster.OpenServiceAsync(service.Name, service.Port, service.Namespace, service.Scheme, cancellationToken).ConfigureAwait(false);
                _services[(service.Name, service.Port, service.Namespace)] = endpoint;
                await WaitUntilAnswersAsync(service, endpoint, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (KubeDindException ex)
        {
            await DisposeAsync().ConfigureAwait(false);

            // A fixture failure shows only the exception: put the supporting lines (log tails, diagnostics) into it.
            var diagnostics = (ex as DeployFailedException)?.Diagnostics is { } bundle ? $"\ndiagnostics: {bundle.Directory}" : string.Empty;
            throw new InvalidOperationException($"{ex.Message}{(ex.Details is { Length: > 0 } details ? "\n" + details : string.Empty)}{diagnostics}", ex);
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Running.TryRemove(this, out _);
        foreach (var endpoint in _services.Values)
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
        }

        _services.Clear();
        if (_cluster is not null)
        {
            if (Settings.KeepCluster)
            {
                Log.Write(KubeDindLogLevel.Information, $"keeping cluster {_cluster.Name}: kubectl --kubeconfig {_cluster.KubeconfigPath} get pods -A; remove it with docker rm -fv {_cluster.Name}");
            }
            else
            {
                await _cluster.DisposeAsync().ConfigureAwait(false);
            }

            _cluster = null;
        }

        _session?.Dispose();
        _session = null;
        GC.SuppressFinalize(this);
    }

    /// <summary>Runs before the cluster starts, when the tests are not skipped: e.g. publish the app the images are built from.</summary>
    protected virtual Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// A NodePort answers only once kube-proxy has programmed it, a little after the rollout: wait until an HTTP request
    /// gets any answer, so the first test does not race it.
    /// </summary>
    private async Task WaitUntilAnswersAsync(FixtureService service, ServiceEndpoint endpoint, CancellationToken cancellationToken)
    {
        if (service.Scheme is not ("http" or "https"))
        {
            return;
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + Settings.ServiceTimeout;
        var last = "no answer yet";
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(endpoint.Url, cancellationToken).ConfigureAwait(false);
                Log.Write(KubeDindLogLevel.Information, $"service {service.Namespace}/{service.Name}:{service.Port} answers at {endpoint.Url} ({endpoint.Via})");
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = ex.InnerException?.Message ?? ex.Message;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new KubeDindException($"service {service.Namespace}/{service.Name}:{service.Port} at {endpoint.Url} did not answer within {Settings.ServiceTimeout.TotalSeconds:0}s (last: {last}); check its pods are Ready and the port is right.");
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
        }
    }

    private KubeDindCluster RequireCluster()
    {
        if (SkipReason is not null)
        {
            Assert.Skip(SkipReason);
        }

        return _cluster ?? throw new InvalidOperationException("the KubeDind fixture has not started (or was disposed); use it as an assembly, collection or class fixture.");
    }

    /// <summary>Builds <paramref name="image"/> the way Cake and Nuke do (the core's BuildImage): the build's own labels only, a BASE_IMAGE the build sets wins.</summary>
    private static async Task BuildAsync(KubeDindSession session, FixtureImage image, CancellationToken cancellationToken)
    {
        if (image.Context is null)
        {
            return;
        }

        await new BuildImage(session).RunAsync(
            new ImageBuildSettings { ContextDirectory = Path.GetFullPath(image.Context), Tag = image.Tag, BuildArgs = image.BuildArgs, BaseImageBuildArg = image.BaseImageBuildArg },
            cancellationToken).ConfigureAwait(false);
    }
}
