using System.Collections.Concurrent;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Tests.Cluster;

/// <summary>Keeps every log line (for assertions) and echoes them to the current test's output when there is one.</summary>
public sealed class CapturingLog : IKubeDindLog
{
    private readonly ConcurrentQueue<(KubeDindLogLevel Level, string Message)> _lines = new();

    public IReadOnlyList<(KubeDindLogLevel Level, string Message)> Lines => _lines.ToList();

    public IEnumerable<string> Warnings => _lines.Where(l => l.Level == KubeDindLogLevel.Warning).Select(l => l.Message);

    public void Write(KubeDindLogLevel level, string message)
    {
        _lines.Enqueue((level, message));
        if (level >= KubeDindLogLevel.Information)
        {
            try
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"[{DateTime.UtcNow:HH:mm:ss.f}] {level}: {message}");
            }
            catch (InvalidOperationException)
            {
                // No test is running (fixture set-up outside a test).
            }
        }
    }
}

/// <summary>Facts and helpers shared by the cluster tests.</summary>
public static class ClusterTestSupport
{
    public const string Prefix = "kdt-cluster-";

    public static string UniqueName(string what) => $"{Prefix}{what}-{Guid.NewGuid().ToString("N")[..8]}";

    public static string? K3sBinary => Environment.GetEnvironmentVariable("KUBEDIND_K3S_BINARY") is { Length: > 0 } path ? path : null;

    /// <summary>Compose-mode settings (what CI here can run), with a fast stop for tests.</summary>
    public static ClusterSettings ComposeSettings(string what) => new()
    {
        Name = UniqueName(what),
        Kubernetes = false,
        ReadinessTimeout = TimeSpan.FromMinutes(3),
        StopTimeout = TimeSpan.FromSeconds(5),
        KubeconfigDirectory = Path.Combine(Path.GetTempPath(), "kdt-cluster-kubeconfigs"),
    };

    /// <summary>
    /// A ~1 MB runnable image: Debian's statically linked ldconfig on scratch, printing its version. Built from the
    /// offline base image, so nothing is pulled.
    /// </summary>
    public static async Task<string> BuildTinyImageAsync(KubeDindSession session, string tag, string? marker = null)
    {
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(CancellationToken.None);
        var context = new BuildContext().AddText(
            "Dockerfile",
            $"FROM {baseImage} AS source\nFROM scratch\nCOPY --from=source /sbin/ldconfig /ldconfig\nLABEL kdt.marker=\"{marker ?? Guid.NewGuid().ToString("N")}\"\nENTRYPOINT [\"/ldconfig\", \"--version\"]\n");
        await new ImageStore(session.Docker, session.Log).BuildAsync(context, tag, new Dictionary<string, string>(), new Dictionary<string, string>(), CancellationToken.None);
        return tag;
    }

    /// <summary>An image with one layer of <paramref name="megabytes"/> MB random data on the base image.</summary>
    public static async Task<string> BuildRandomDataImageAsync(KubeDindSession session, string tag, int megabytes)
    {
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(CancellationToken.None);
        var context = new BuildContext().AddText(
            "Dockerfile",
            $"FROM {baseImage}\nRUN head -c {megabytes}M /dev/urandom > /random.bin && echo {Guid.NewGuid():N} > /unique\n");
        await new ImageStore(session.Docker, session.Log).BuildAsync(context, tag, new Dictionary<string, string>(), new Dictionary<string, string>(), CancellationToken.None);
        return tag;
    }

    public static async Task RemoveImageAsync(KubeDindSession session, string image)
    {
        try
        {
            await session.Docker.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = true }, CancellationToken.None);
        }
        catch (DockerApiException)
        {
        }
    }

    /// <summary>Tags of <paramref name="repository"/> in the registry at <paramref name="registry"/> (host:port), or null when it has none.</summary>
    public static async Task<string?> RegistryTagsAsync(string registry, string repository)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync(new Uri($"http://{registry}/v2/{repository}/tags/list"));
        return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
    }
}

/// <summary>What the engine holds, for "teardown leaves nothing behind" checks.</summary>
public sealed record EngineInventory(IReadOnlyDictionary<string, IDictionary<string, string>?> Containers, IReadOnlyDictionary<string, IDictionary<string, string>?> Volumes, IReadOnlyDictionary<string, IDictionary<string, string>?> Networks)
{
    public static async Task<EngineInventory> TakeAsync(IDockerClient docker)
    {
        var containers = await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true });
        var volumes = await docker.Volumes.ListAsync();
        var networks = await docker.Networks.ListNetworksAsync();
        return new EngineInventory(
            containers.ToDictionary(c => c.ID, c => (IDictionary<string, string>?)c.Labels),
            (volumes.Volumes ?? []).ToDictionary(v => v.Name, v => (IDictionary<string, string>?)v.Labels),
            networks.ToDictionary(n => n.ID, n => (IDictionary<string, string>?)n.Labels));
    }

    /// <summary>
    /// What is in <paramref name="after"/> but not here, leaving out what is visibly someone else's: the engine is
    /// shared with other helpers' tests (resources labelled with another run id, or named kdt-&lt;other area&gt;).
    /// </summary>
    public IReadOnlyList<string> NewIn(EngineInventory after, string runId)
    {
        bool Ours(IDictionary<string, string>? labels) =>
            labels is null || !labels.TryGetValue(KubeDindLabels.RunId, out var run) || run == runId;

        return after.Containers.Where(c => !Containers.ContainsKey(c.Key) && Ours(c.Value)).Select(c => "container " + c.Key[..12])
            .Concat(after.Volumes.Where(v => !Volumes.ContainsKey(v.Key) && Ours(v.Value)).Select(v => "volume " + v.Key))
            .Concat(after.Networks.Where(n => !Networks.ContainsKey(n.Key) && Ours(n.Value)).Select(n => "network " + n.Key[..12]))
            .ToList();
    }
}
