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

    /// <summary>The k3s binary for Kubernetes tests: KUBEDIND_K3S_BINARY, or the pinned release <see cref="TestK3s"/> downloaded.</summary>
    public static string? K3sBinary => Environment.GetEnvironmentVariable("KUBEDIND_K3S_BINARY") is { Length: > 0 } path ? path : null;

    /// <summary>Why the Kubernetes tests skip: neither a given k3s nor the pinned download (see <see cref="TestK3s"/>).</summary>
    public static string NoK3sReason => TestK3s.SkipReason ?? "needs a real cluster: set KUBEDIND_K3S_BINARY to a k3s binary";

    /// <summary>Compose-mode settings (what CI here can run), with a fast stop for tests.</summary>
    public static ClusterSettings ComposeSettings(string what) => new()
    {
        Name = UniqueName(what),
        Kubernetes = false,
        ReadinessTimeout = TimeSpan.FromMinutes(3),
        KubeconfigDirectory = Path.Combine(Path.GetTempPath(), "kdt-cluster-kubeconfigs"),
    };

    /// <summary>
    /// A Kubernetes cluster of a test's own: the image KUBEDIND_TEST_CLUSTER_IMAGE names, when set (else the one built
    /// for the test k3s), and 5 minutes to be ready, since several clusters start at once in a test run.
    /// </summary>
    public static ClusterSettings KubernetesSettings(string what) => ComposeSettings(what) with
    {
        Image = Environment.GetEnvironmentVariable("KUBEDIND_TEST_CLUSTER_IMAGE") is { Length: > 0 } image ? image : null,
        Kubernetes = true,
        ReadinessTimeout = TimeSpan.FromMinutes(5),
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

    /// <summary>An image of <paramref name="megabytes"/> MB random data in one layer (on scratch, so the push moves just that).</summary>
    public static async Task<string> BuildRandomDataImageAsync(KubeDindSession session, string tag, int megabytes)
    {
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(CancellationToken.None);
        var context = new BuildContext().AddText(
            "Dockerfile",
            $"FROM {baseImage} AS source\nRUN head -c {megabytes}M /dev/urandom > /random.bin && echo {Guid.NewGuid():N} >> /random.bin\nFROM scratch\nCOPY --from=source /random.bin /random.bin\n");
        await new ImageStore(session.Docker, session.Log).BuildAsync(context, tag, new Dictionary<string, string>(), new Dictionary<string, string>(), CancellationToken.None);
        return tag;
    }

    public static async Task RemoveImageAsync(KubeDindSession session, string image)
    {
        try
        {
            await new ImageStore(session.Docker, session.Log).RemoveAsync(image, force: true, CancellationToken.None);
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

/// <summary>One resource on the engine: its id, name and labels.</summary>
public sealed record EngineResource(string Kind, string Id, string Name, IDictionary<string, string>? Labels)
{
    public override string ToString() => $"{Kind} {Name} ({Id[..Math.Min(12, Id.Length)]})";
}

/// <summary>What the engine holds, for "teardown leaves nothing behind" checks.</summary>
public sealed record EngineInventory(IReadOnlyList<EngineResource> Resources)
{
    public int Count(string kind) => Resources.Count(r => r.Kind == kind);

    public static async Task<EngineInventory> TakeAsync(IDockerClient docker)
    {
        var containers = await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true });
        var volumes = await docker.Volumes.ListAsync();
        var networks = await docker.Networks.ListNetworksAsync();
        return new EngineInventory(
            containers.Select(c => new EngineResource("container", c.ID, c.Names.FirstOrDefault()?.TrimStart('/') ?? c.ID, c.Labels))
                .Concat((volumes.Volumes ?? []).Select(v => new EngineResource("volume", v.Name, v.Name, v.Labels)))
                .Concat(networks.Select(n => new EngineResource("network", n.ID, n.Name, n.Labels)))
                .ToList());
    }

    /// <summary>
    /// What is in <paramref name="after"/> but not here and is this run's: labelled with <paramref name="runId"/>, or unlabelled
    /// and named like the cluster tests' resources. The engine is shared with other tests (other sessions' and this test run's
    /// other collections, whose clusters carry their own run ids), whose resources come and go meanwhile. The engine's layer
    /// store is kept between clusters on purpose, as the mirror caches are.
    /// </summary>
    public IReadOnlyList<EngineResource> NewIn(EngineInventory after, string runId)
    {
        var before = Resources.Select(r => (r.Kind, r.Id)).ToHashSet();
        return after.Resources
            .Where(r => !before.Contains((r.Kind, r.Id)))
            .Where(r => r.Labels is null || !r.Labels.TryGetValue(KubeDindLabels.Role, out var role) || role != LayerStoreSettings.Role)
            .Where(r => r.Labels is not null && r.Labels.TryGetValue(KubeDindLabels.RunId, out var run)
                ? run == runId
                : r.Name.StartsWith(ClusterTestSupport.Prefix, StringComparison.Ordinal))
            .ToList();
    }
}
