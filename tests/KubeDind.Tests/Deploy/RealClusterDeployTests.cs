using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// The deploy step against a real kube-dind cluster, the one the test assembly shares (<see cref="RealClusterFixture"/>),
/// each test in a namespace of its own. Runs only when KUBEDIND_K3S_BINARY names a k3s binary (else skipped with that
/// reason). Deploys go through <see cref="KubeDindCluster.DeployAsync"/>, the one way in that both front ends use.
/// </summary>
public sealed class RealClusterDeployTests
{
    private const string WebManifest = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: web-config}
        data: {GREETING: hello-from-configmap}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 1
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
                - name: app
                  image: kdt-deploy-web:IMAGE_TAG
                  envFrom: [{configMapRef: {name: web-config}}]
                  env: [{name: VERSION, value: "IMAGE_TAG"}]
                  ports: [{name: http, containerPort: 8080}]
                  readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: http}]
        """;

    private readonly RealClusterFixture _fixture;
    private readonly ITestOutputHelper _output;

    public RealClusterDeployTests(RealClusterFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    private KubeDindCluster Cluster => _fixture.Cluster ?? throw new InvalidOperationException("no cluster");

    [Fact]
    public async Task A_deployment_service_and_configmap_are_reachable_from_the_host_and_a_new_tag_rolls_out()
    {
        SkipWithoutK3s();
        var ct = TestContext.Current.CancellationToken;
        var session = _fixture.Session!;
        var cluster = Cluster;
        var ns = "kdt-web-" + Guid.NewGuid().ToString("N")[..6];
        var images = await BuildWebImagesAsync(session, ["1", "2"], ct);
        try
        {
            await cluster.PushImageAsync(images[0], null, ct);
            await cluster.PushImageAsync(images[1], null, ct);
            var client = cluster.Kubernetes;

            var first = await cluster.DeployAsync(Settings(images[0], ns), ct);
            Assert.True(first.Succeeded);
            Assert.Equal("hello-from-configmap 1", await GetAsync(client, ns, ct));

            var second = await cluster.DeployAsync(Settings(images[1], ns), ct);
            Assert.Equal(RolloutState.Ready, second.Objects.Single(o => o.Kind == "Deployment").Rollout);
            Assert.All(second.Objects, o => Assert.False(o.Created));
            Assert.Equal("hello-from-configmap 2", await GetAsync(client, ns, ct));
        }
        finally
        {
            await RemoveImagesAsync(session, images);
        }
    }

    [Fact]
    public async Task A_crash_looping_pod_and_a_missing_image_produce_bundles_naming_the_cause()
    {
        SkipWithoutK3s();
        var ct = TestContext.Current.CancellationToken;
        var session = _fixture.Session!;
        var cluster = Cluster;
        var ns = "kdt-bundles-" + Guid.NewGuid().ToString("N")[..6];
        var images = await BuildWebImagesAsync(session, ["1"], ct);
        try
        {
            await cluster.PushImageAsync(images[0], null, ct);

            var crash = await Assert.ThrowsAsync<DeployFailedException>(() => cluster.DeployAsync(Inline("crasher", images[0], "[sh, -c, 'echo boom: no config; exit 3']", ns), ct));
            Assert.StartsWith("crasher: container app is crash-looping (exit code 3): last log line: boom: no config", crash.Diagnostics!.Summary[0], StringComparison.Ordinal);

            var missing = await Assert.ThrowsAsync<DeployFailedException>(() => cluster.DeployAsync(Inline("ghost", "localhost:5000/never-pushed:1", "[sleep, '3600']", ns), ct));
            Assert.Contains(missing.Diagnostics!.Files, f => f.EndsWith(Path.Combine("cluster", "k3s.log"), StringComparison.Ordinal));
            Assert.Equal("ghost: image localhost:5000/never-pushed:1 not found — was it pushed?", missing.Diagnostics!.Summary[0]);

            _output.WriteLine(crash.Message);
            _output.WriteLine(missing.Message);
            foreach (var file in missing.Diagnostics.Files)
            {
                _output.WriteLine("  " + file);
            }
        }
        finally
        {
            await RemoveImagesAsync(session, images);
        }
    }

    /// <summary>The apply body is the manifest's YAML: the server, not KubeDind, types its scalars and expands its merge keys.</summary>
    [Fact]
    public async Task The_server_reads_octal_modes_anchors_and_merge_keys_as_kubectl_would()
    {
        SkipWithoutK3s();
        var ct = TestContext.Current.CancellationToken;
        var ns = "kdt-yaml-" + Guid.NewGuid().ToString("N")[..6];
        const string manifest = """
            apiVersion: v1
            kind: PodTemplate
            metadata:
              name: modes
              labels: &labels {app: modes, tier: "on"}
            template:
              metadata:
                labels:
                  <<: *labels
                  tier: back
              spec:
                containers: [{name: app, image: app}]
                volumes:
                  - {name: config, configMap: {name: config, defaultMode: 0644}}
                  - {name: secret, secret: {secretName: secret, defaultMode: 0400}}
            """;

        var result = await Cluster.DeployAsync(new DeploySettings { InlineManifests = [manifest], Namespace = ns, WaitForRollout = false }, ct);

        Assert.True(result.Succeeded);
        var live = await Cluster.Kubernetes.CoreV1.ReadNamespacedPodTemplateAsync("modes", ns, cancellationToken: ct);
        Assert.Equal([420, 256], live.Template.Spec.Volumes.Select(v => v.ConfigMap?.DefaultMode ?? v.Secret.DefaultMode));
        Assert.Equal("on", live.Metadata.Labels["tier"]);
        Assert.Equal(new Dictionary<string, string> { ["app"] = "modes", ["tier"] = "back" }, live.Template.Metadata.Labels);
    }

    private static void SkipWithoutK3s()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBEDIND_K3S_BINARY")))
        {
            Assert.Skip(KubeDind.Tests.Cluster.ClusterTestSupport.NoK3sReason);
        }
    }

    /// <summary>The web app at <paramref name="image"/> (VERSION is its tag) in <paramref name="ns"/>.</summary>
    private static DeploySettings Settings(string image, string ns) => new()
    {
        InlineManifests = [WebManifest.Replace("kdt-deploy-web:IMAGE_TAG", image, StringComparison.Ordinal).Replace("IMAGE_TAG", image.Split(':')[^1], StringComparison.Ordinal)],
        Namespace = ns,
        Timeout = TimeSpan.FromMinutes(3),
    };

    /// <summary>A Deployment meant to fail: never Ready, so a container that exits at once cannot finish its rollout first.</summary>
    private static DeploySettings Inline(string name, string image, string command, string ns) => new()
    {
        Namespace = ns,
        InlineManifests =
        [
            """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: NAME}
            spec:
              selector: {matchLabels: {app: NAME}}
              template:
                metadata: {labels: {app: NAME}}
                spec:
                  containers: [{name: app, image: "IMAGE", command: COMMAND, readinessProbe: {exec: {command: ["false"]}, periodSeconds: 1}}]
            """.Replace("NAME", name, StringComparison.Ordinal).Replace("IMAGE", image, StringComparison.Ordinal).Replace("COMMAND", command, StringComparison.Ordinal),
        ],
        Timeout = TimeSpan.FromMinutes(3),
    };

    private static async Task<string> GetAsync(k8s.IKubernetes client, string ns, CancellationToken ct)
    {
        await using var endpoint = await new ServiceAccess(client).OpenAsync("web", "http", ns, cancellationToken: ct);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        return (await http.GetStringAsync(endpoint.Url, ct)).Trim();
    }

    /// <summary>A tiny HTTP server image (perl is in the base image; nothing can be pulled here).</summary>
    private static async Task<IReadOnlyList<string>> BuildWebImagesAsync(KubeDindSession session, IReadOnlyList<string> tags, CancellationToken ct)
    {
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(ct);
        const string server = """
            use IO::Socket::INET;
            my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die "listen: $!";
            while (my $c = $s->accept) { while (my $l = <$c>) { last if $l =~ /^\r?$/ } print $c "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n$ENV{GREETING} $ENV{VERSION}\n"; close $c; }
            """;
        var context = new BuildContext()
            .AddText("server.pl", server)
            .AddText("Dockerfile", $"FROM {baseImage}\nCOPY server.pl /server.pl\nCMD [\"perl\", \"/server.pl\"]\n");
        var built = new List<string>();
        foreach (var tag in tags)
        {
            var image = $"kdt-deploy-web:{tag}";
            await new ImageStore(session.Docker, session.Log).BuildAsync(context, image, new Dictionary<string, string>(), KubeDindLabels.ForResource("test", session.RunId), ct);
            built.Add(image);
        }

        return built;
    }

    private static async Task RemoveImagesAsync(KubeDindSession session, IReadOnlyList<string> images)
    {
        foreach (var image in images)
        {
            try
            {
                await new ImageStore(session.Docker, session.Log).RemoveAsync(image, force: true, CancellationToken.None);
            }
            catch (global::Docker.DotNet.DockerApiException)
            {
                // already gone
            }
        }
    }
}
