using System.Collections.Concurrent;
using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Docker;
using KubeDind.Images;
using KubeDind.Logging;
using KubeDind.Run;
using Xunit;

namespace KubeDind.Testing;

/// <summary>
/// An xunit v3 fixture that runs the core's <see cref="KubeDindRunPlan"/> once: starts the mirror and one KubeDind cluster, pushes <see cref="KubeDindFixtureSettings.Images"/>, deploys
/// <see cref="KubeDindFixtureSettings.Deploy"/>, opens <see cref="KubeDindFixtureSettings.Services"/> and tears it all
/// down when the fixture is disposed. Use it assembly-wide (<c>[assembly: AssemblyFixture(typeof(MyCluster))]</c>) or
/// per collection (<c>ICollectionFixture&lt;MyCluster&gt;</c>) so the cluster starts once per test run:
/// <code>
/// public sealed class MyCluster() : KubeDindFixture(new KubeDindFixtureSettings
/// {
///     Images = [new KubeDindImage("my-app:dev", "artifacts/publish")],
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
    private KubeDindRunPlan? _plan;
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
        _plan = new KubeDindRunPlan(Log);
        try
        {
            await PrepareAsync(cancellationToken).ConfigureAwait(false);
            await _plan.RunAsync(Settings.ToRunSettings(), cancellationToken).ConfigureAwait(false);
            _cluster = _plan.CoreCluster;
            Running[this] = 0;
            foreach (var service in Settings.Services)
            {
                var endpoint = await _cluster!.OpenServiceAsync(service.Name, service.Port, service.Namespace, service.Scheme, Settings.ServiceTimeout, cancellationToken).ConfigureAwait(false);
                _services[(service.Name, service.Port, service.Namespace)] = endpoint;
                Log.Write(KubeDindLogLevel.Information, $"service {service.Namespace}/{service.Name}:{service.Port} answers at {endpoint.Url} ({endpoint.Via})");
            }
        }
        catch (KubeDindException ex)
        {
            await FinishAsync(failed: true).ConfigureAwait(false);

            // A fixture failure shows only the exception: put the supporting lines (log tails, diagnostics) into it.
            var diagnostics = (ex as DeployFailedException)?.Diagnostics is { } bundle ? $"\ndiagnostics: {bundle.Directory}" : string.Empty;
            throw new InvalidOperationException($"{ex.Message}{(ex.Details is { Length: > 0 } details ? "\n" + details : string.Empty)}{diagnostics}", ex);
        }
        catch
        {
            await FinishAsync(failed: true).ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await FinishAsync(failed: false).ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Closes the opened services, then the plan's finish: diagnostics when the start failed, teardown or keep.</summary>
    private async Task FinishAsync(bool failed)
    {
        Running.TryRemove(this, out _);
        foreach (var endpoint in _services.Values)
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
        }

        _services.Clear();
        _cluster = null;
        if (_plan is { } plan)
        {
            _plan = null;
            await plan.FinishAsync(failed, Settings.KeepCluster).ConfigureAwait(false);
            await plan.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Runs before the cluster starts, when the tests are not skipped: e.g. publish the app the images are built from.</summary>
    protected virtual Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private KubeDindCluster RequireCluster()
    {
        if (SkipReason is not null)
        {
            Assert.Skip(SkipReason);
        }

        return _cluster ?? throw new InvalidOperationException("the KubeDind fixture has not started (or was disposed); use it as an assembly, collection or class fixture.");
    }
}
