using KubeDind;
using KubeDind.Logging;
using KubeDind.Mirror;

namespace Nuke.KubeDind;

/// <summary>
/// What one build run has started, shared by the targets of <see cref="IKubeDind"/>: a Nuke build is one
/// process and its targets are separate delegates, so the state lives here rather than on the build object.
/// </summary>
public static class KubeDindRun
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly Dictionary<string, string> Pushed = new(StringComparer.Ordinal);
    private static IKubeDindDriver? _driver;

    static KubeDindRun()
    {
        Console.CancelKeyPress += (_, _) => Cancellation.Cancel();
    }

    /// <summary>Cancelled when the build is interrupted (Ctrl+C); every step gets it.</summary>
    public static CancellationTokenSource Cancellation { get; private set; } = new();

    /// <summary>Labels everything this run creates; known once the first target connected to Docker.</summary>
    public static string RunId => _driver?.RunId ?? Environment.GetEnvironmentVariable("KUBEDIND_RUN_ID") ?? "local";

    /// <summary>The mirror StartMirror started or reused; null before it ran.</summary>
    public static MirrorEndpoints? Mirror { get; private set; }

    /// <summary>The cluster StartCluster started; null before it ran and after Teardown.</summary>
    public static KubeDindEndpoints? Cluster { get; private set; }

    /// <summary>Local tag → reference pods use, for every image PushImage pushed.</summary>
    public static IReadOnlyDictionary<string, string> PushedImages => Pushed;

    /// <summary>Creates the driver; tests replace it to run the targets without Docker.</summary>
    internal static Func<IKubeDindLog, CancellationToken, Task<IKubeDindDriver>> DriverFactory { get; set; } = SessionDriver.ConnectAsync;

    internal static async Task<IKubeDindDriver> DriverAsync()
    {
        await Gate.WaitAsync(Cancellation.Token).ConfigureAwait(false);
        try
        {
            return _driver ??= await DriverFactory(new NukeKubeDindLog(), Cancellation.Token).ConfigureAwait(false);
        }
        finally
        {
            Gate.Release();
        }
    }

    internal static bool HasDriver => _driver is not null;

    internal static void SetMirror(MirrorEndpoints mirror) => Mirror = mirror;

    internal static void SetCluster(KubeDindEndpoints? cluster) => Cluster = cluster;

    internal static void AddPushed(string tag, string reference) => Pushed[tag] = reference;

    internal static KubeDindEndpoints RequireCluster(string who) =>
        Cluster ?? throw new KubeDindException($"{who} needs a running cluster, but StartCluster has not run in this build: make the target depend on IKubeDind.StartCluster.");

    /// <summary>Forgets everything (disposing the driver): after Teardown, and between tests.</summary>
    internal static async Task ResetAsync()
    {
        if (_driver is not null)
        {
            await _driver.DisposeAsync().ConfigureAwait(false);
        }

        _driver = null;
        Mirror = null;
        Cluster = null;
        Pushed.Clear();
        if (Cancellation.IsCancellationRequested)
        {
            Cancellation = new CancellationTokenSource();
        }
    }
}
