using System.Text.Json;
using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Docker;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// The 3-image, 6-pod app in tests/apps/three-tier (the Bench deploys it too), built on the base image, pushed and
/// deployed by Deploy into the shared cluster (<see cref="RealClusterFixture"/>) in a namespace of its own: every pod
/// ready, and one request through web reaches the api, which counts it in redis beside the worker's ticks.
/// </summary>
public sealed class ThreeTierAppTests
{
    private static readonly string[] Names = ["three-tier-web", "three-tier-api", "three-tier-redis"];

    /// <summary>Opens a TCP connection to each "address/port" argument four times; names the first that fails.</summary>
    private const string ConnectEach = """for target in "$@"; do for _ in 1 2 3 4; do timeout 2 bash -c "exec 3<>/dev/tcp/$target" || { echo "no connection to $target"; exit 1; }; done; done""";

    private readonly RealClusterFixture _fixture;

    public ThreeTierAppTests(RealClusterFixture fixture) => _fixture = fixture;

    private KubeDindCluster Cluster => _fixture.Cluster ?? throw new InvalidOperationException("no cluster");

    [Fact]
    public async Task Its_six_pods_get_ready_and_a_request_through_web_reaches_api_and_redis()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBEDIND_K3S_BINARY")))
        {
            Assert.Skip(KubeDind.Tests.Cluster.ClusterTestSupport.NoK3sReason);
        }

        var ct = TestContext.Current.CancellationToken;
        var session = _fixture.Session!;
        var cluster = Cluster;
        var suffix = Guid.NewGuid().ToString("N")[..6];
        var ns = "kdt-three-tier-" + suffix;
        var images = await BuildAsync(session, suffix, ct);
        try
        {
            var rewrites = new Dictionary<string, string>();
            foreach (var (name, image) in images)
            {
                rewrites[$"{name}:dev"] = await cluster.PushImageAsync(image, null, ct);
            }

            var result = await cluster.DeployAsync(
                new DeploySettings
                {
                    Manifests = [Path.Combine(TestRepository.Root, "tests", "apps", "three-tier", "deploy")],
                    Namespace = ns,
                    ImageRewrites = rewrites,
                    Timeout = TimeSpan.FromSeconds(75),
                },
                ct);

            Assert.True(result.Succeeded);

            // The moment Deploy returns, every Service routes to its pods: a connection to each cluster IP and port from
            // the node is accepted, none refused for want of endpoints (four times each, so both api pods are likely hit).
            var services = (await cluster.Kubernetes.CoreV1.ListNamespacedServiceAsync(ns, cancellationToken: ct)).Items;
            var targets = services.SelectMany(s => s.Spec.Ports.Select(p => $"{s.Spec.ClusterIP}/{p.Port}")).ToList();
            var connects = await ContainerExec.RunAsync(session.Docker, cluster.ContainerId, ["bash", "-c", ConnectEach, "connect", .. targets], cancellationToken: ct);
            Assert.True(connects.Succeeded, $"right after Deploy: {connects.StandardOutput}{connects.StandardError}");
            var pods = (await cluster.Kubernetes.CoreV1.ListNamespacedPodAsync(ns, cancellationToken: ct)).Items;
            Assert.Equal(6, pods.Count(p => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true));
            Assert.Equal(["api", "api", "redis", "web", "web", "worker"], pods.Select(p => p.Metadata.Labels["app"]).Order());

            await using var web = await cluster.OpenServiceAsync("web", "http", ns, cancellationToken: ct);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            using var answer = JsonDocument.Parse(await http.GetStringAsync(new Uri(web.Url, "api/count"), ct));
            Assert.Equal(1, answer.RootElement.GetProperty("visits").GetInt32());
            Assert.True(answer.RootElement.GetProperty("worker_ticks").GetInt32() >= 1, answer.RootElement.ToString());
            Assert.StartsWith("api-", answer.RootElement.GetProperty("host").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            await cluster.Kubernetes.CoreV1.DeleteNamespaceAsync(ns, cancellationToken: CancellationToken.None);
            foreach (var image in images.Values)
            {
                await new ImageStore(session.Docker, session.Log).RemoveAsync(image, force: true, CancellationToken.None);
            }
        }
    }

    /// <summary>The three images (web, api and redis from the app's folders), by the names the manifests use.</summary>
    private static async Task<Dictionary<string, string>> BuildAsync(KubeDindSession session, string suffix, CancellationToken ct)
    {
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(ct);
        var folders = new[]
        {
            Path.Combine(TestRepository.Root, "tests", "apps", "three-tier", "web"),
            Path.Combine(TestRepository.Root, "tests", "apps", "three-tier", "api"),
            Path.Combine(TestRepository.Root, "tests", "apps", "three-tier", "redis"),
        };
        var images = new Dictionary<string, string>();
        foreach (var (name, folder) in Names.Zip(folders))
        {
            var image = $"kdt-{name}:{suffix}";
            await new ImageStore(session.Docker, session.Log).BuildAsync(BuildContext.FromDirectory(folder), image, new Dictionary<string, string> { ["BASE_IMAGE"] = baseImage }, KubeDindLabels.ForResource("test", session.RunId), ct);
            images[name] = image;
        }

        return images;
    }
}
