using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Docker;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// The deploy behaviour a fake API server cannot prove, shown by a real k3s (KUBEDIND_K3S_BINARY;
/// skipped with the reason without it): a missing Secret, an unknown kind that applies nothing, a rollout that times out,
/// a failing workload beside a healthy one, an OOMKilled container, a CRD with its instance, Jobs and bare Pods,
/// diagnostics on demand, service access (published node port, port-forward, unknown port), owner-only redacted
/// diagnostics bundles, and the warning when the cluster runs no DNS.
/// </summary>
public sealed class RealClusterParityTests
{
    private readonly RealClusterFixture _fixture;
    private readonly ITestOutputHelper _output;

    public RealClusterParityTests(RealClusterFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private KubeDindCluster Cluster => _fixture.Cluster ?? throw new InvalidOperationException("no cluster");

    [Fact]
    public async Task A_mounted_secret_that_does_not_exist_fails_fast()
    {
        SkipWithoutK3s();
        var ns = Ns("secret");

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, TimeSpan.FromMinutes(3), Workload("web", "[sleep, '3600']", volumes: "[{ name: tls, secret: { secretName: web-tls } }]", container: "volumeMounts: [{ name: tls, mountPath: /tls }]")),
            Ct));

        Assert.Equal(
            $"web: Secret {ns}/web-tls (mounted as volume tls) does not exist; add it to the manifests or mark the volume optional",
            Assert.Single(ex.Diagnostics!.Summary).Split(" (the cluster has", 2)[0]);
    }

    [Fact]
    public async Task An_unknown_kind_is_one_line_and_nothing_is_applied()
    {
        SkipWithoutK3s();
        var ns = Ns("kind");
        var config = "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: kept-out }\ndata: { a: b }\n";
        var gadget = "apiVersion: example.kubedind.io/v1\nkind: Gadget\nmetadata: { name: g }\n";

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => Cluster.DeployAsync(Settings(ns, TimeSpan.FromMinutes(1), config, gadget), Ct));

        Assert.StartsWith("Deploy: kind Gadget (apiVersion example.kubedind.io/v1) in ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
        var maps = await Cluster.Kubernetes.CoreV1.ListNamespacedConfigMapAsync(ns, cancellationToken: Ct);
        Assert.DoesNotContain(maps.Items, m => m.Metadata.Name == "kept-out");
    }

    [Fact]
    public async Task A_rollout_timeout_says_what_it_waited_for_and_where_the_bundle_is()
    {
        SkipWithoutK3s();
        var ns = Ns("stuck");

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, TimeSpan.FromSeconds(40), Workload("web", "[sleep, '3600']", null, TestManifests.NeverReady)),
            Ct));

        Assert.Contains($"Deployment {ns}/web did not roll out within 40s (waited for all replicas updated and available; last saw 1/1 updated, 0/1 available)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("diagnostics in " + ex.Diagnostics!.Directory, ex.Message, StringComparison.Ordinal);
        Assert.Equal(RolloutState.TimedOut, ex.Result.Objects.Single(o => o.Kind == "Deployment").Rollout);
        _output.WriteLine(ex.Message);
    }

    [Fact]
    public async Task A_failing_workload_does_not_stop_the_wait_for_a_healthy_one()
    {
        SkipWithoutK3s();
        var ns = Ns("mixed");

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, TimeSpan.FromMinutes(3), TestManifests.Deployment("api", "localhost:5000/never-pushed:3"), Workload("web", "[sleep, '3600']")),
            Ct));

        Assert.Equal("api: image localhost:5000/never-pushed:3 not found — was it pushed?", Assert.Single(ex.Diagnostics!.Summary));
        Assert.Equal(RolloutState.Ready, ex.Result.Objects.Single(o => o.Name == "web").Rollout);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public async Task An_oom_killed_container_is_named()
    {
        SkipWithoutK3s();
        var ns = Ns("oom");
        // Ready only once the allocation succeeded, which the limit forbids: a slow machine cannot let the rollout finish first.
        var hog = "[perl, -e, '$x = \"a\" x (256 * 1024 * 1024); open my $f, \">\", \"/tmp/allocated\"; sleep 3600']";
        var ready = "readinessProbe: { exec: { command: [cat, /tmp/allocated] }, periodSeconds: 1 }";

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(ns, TimeSpan.FromMinutes(3), Workload("worker", hog, null, "resources: { limits: { memory: 32Mi } }", ready)),
            Ct));

        _output.WriteLine(ex.Message);
        // containerd reports the kill as OOMKilled only when its OOM event beats the exit to the kubelet; on a loaded node it
        // can lose, and the summary then names the memory limit from the SIGKILL (unit-tested in WorkloadChecksTests).
        Assert.Matches(@"^worker: container app (was OOMKilled|was killed \(exit code 137, SIGKILL\), not by Kubernetes: most likely out of memory) \(memory limit 32Mi\) — raise the limit or use less memory$", Assert.Single(ex.Diagnostics!.Summary));
    }

    [Fact]
    public async Task A_stateful_set_with_claim_templates_gets_a_volume_and_a_name_per_pod()
    {
        SkipWithoutK3s();
        var ns = Ns("sts");
        var service = "apiVersion: v1\nkind: Service\nmetadata: { name: db }\nspec:\n  clusterIP: None\n  selector: { app: db }\n  ports: [{ name: db, port: 5432 }]\n";
        var set = $$"""
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: { name: db }
            spec:
              serviceName: db
              replicas: 2
              selector: { matchLabels: { app: db } }
              template:
                metadata: { labels: { app: db } }
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                    - name: db
                      image: {{_fixture.Image}}
                      command: [sh, -c, 'cat /etc/hostname > /data/owner; exec sleep 3600']
                      readinessProbe: { exec: { command: [test, -s, /data/owner] }, periodSeconds: 1 }
                      volumeMounts: [{ name: data, mountPath: /data }]
              volumeClaimTemplates:
                - metadata: { name: data }
                  spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 16Mi } } }
            """;

        var result = await Cluster.DeployAsync(Settings(ns, TimeSpan.FromMinutes(3), service, set), Ct);

        Assert.Equal(RolloutState.Ready, result.Objects.Single(o => o.Kind == "StatefulSet").Rollout);
        var claims = (await Cluster.Kubernetes.CoreV1.ListNamespacedPersistentVolumeClaimAsync(ns, cancellationToken: Ct)).Items;
        Assert.Equal(["data-db-0", "data-db-1"], claims.Select(c => c.Metadata.Name).Order());
        Assert.All(claims, c => Assert.Equal("Bound", c.Status.Phase));
        Assert.NotEqual(claims[0].Spec.VolumeName, claims[1].Spec.VolumeName);
        foreach (var pod in new[] { "db-0", "db-1" })
        {
            var owner = await Cluster.ExecAsync(["kubectl", "exec", "-n", ns, pod, "--", "cat", "/data/owner"], null, Ct);
            Assert.True(owner.Succeeded, owner.StandardError);
            Assert.Equal(pod, owner.StandardOutput.Trim());
        }

        // A peer finds db-0 by its stable name, through the pod's own resolver and search path, as a replica would.
        var lookup = await WaitForAsync(
            $"db-1 to resolve db-0.db (namespace {ns})",
            async () => await Cluster.ExecAsync(["kubectl", "exec", "-n", ns, "db-1", "--", "getent", "hosts", "db-0.db"], null, Ct) is { Succeeded: true } found ? found.StandardOutput : null);
        var db0 = await Cluster.Kubernetes.CoreV1.ReadNamespacedPodAsync("db-0", ns, cancellationToken: Ct);
        Assert.StartsWith(db0.Status.PodIP + " ", lookup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Objects_nothing_in_the_cluster_acts_on_are_named_in_the_deploys_warnings()
    {
        SkipWithoutK3s();
        var ns = Ns("unserved");
        var policy = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: { name: deny-all }\nspec: { podSelector: {}, policyTypes: [Ingress] }\n";
        var ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: web }\nspec: { defaultBackend: { service: { name: web, port: { number: 80 } } } }\n";

        var result = await Cluster.DeployAsync(Settings(ns, TimeSpan.FromMinutes(1), policy, ingress), Ct);

        _output.WriteLine(string.Join("\n", result.Warnings));
        Assert.Contains(result.Warnings, w => w.StartsWith($"NetworkPolicy {ns}/deny-all: applied but not enforced", StringComparison.Ordinal));
        Assert.Contains(result.Warnings, w => w.StartsWith($"Ingress {ns}/web: no ingress controller serves it", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_crd_and_its_instance_in_one_deploy_are_applied_after_the_crd_is_established()
    {
        SkipWithoutK3s();
        var ns = Ns("crd");

        var result = await Cluster.DeployAsync(new DeploySettings { Manifests = [ManifestFiles.Path("awkward/crd.yaml")], Namespace = ns, Timeout = TimeSpan.FromMinutes(2) }, Ct);

        Assert.Equal(["CustomResourceDefinition", "Widget"], result.Objects.Select(o => o.Kind).Where(k => k != "Namespace"));
        var widget = await Cluster.Kubernetes.CustomObjects.GetNamespacedCustomObjectAsync<System.Text.Json.JsonElement>("example.kubedind.io", "v1", ns, "widgets", "blue", cancellationToken: Ct);
        Assert.Equal("blue", widget.GetProperty("spec").GetProperty("colour").GetString());
    }

    [Fact]
    public async Task Jobs_and_bare_pods_are_waited_for_too()
    {
        SkipWithoutK3s();
        var job = $"apiVersion: batch/v1\nkind: Job\nmetadata: {{ name: migrate }}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{ name: migrate, image: {_fixture.Image}, command: [sh, -c, 'sleep 2; echo migrated'] }}]\n";
        var pod = $"apiVersion: v1\nkind: Pod\nmetadata: {{ name: probe, labels: {{ app: probe }} }}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers: [{{ name: probe, image: {_fixture.Image}, command: [sleep, '3600'] }}]\n";

        var result = await Cluster.DeployAsync(Settings(Ns("jobs"), TimeSpan.FromMinutes(3), job, pod), Ct);

        var workloads = result.Objects.Where(o => o.Kind != "Namespace").ToList();
        Assert.Equal(["Job", "Pod"], workloads.Select(o => o.Kind));
        Assert.All(workloads, o => Assert.Equal(RolloutState.Ready, o.Rollout));
        Assert.Equal("Ready: 1 succeeded, 0 running, 0 failed", workloads[0].State);
        Assert.Equal("Ready: Running, ready", workloads[1].State);
    }

    [Fact]
    public async Task Diagnostics_on_demand_explain_every_stuck_pod()
    {
        SkipWithoutK3s();
        await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(
            Settings(Ns("ondemand"), TimeSpan.FromMinutes(3), Workload("crasher", "[sh, -c, 'echo no config here; exit 5']", null, TestManifests.NeverReady)),
            Ct));

        var bundle = await Cluster.CollectDiagnosticsAsync(Ct);

        // The cluster is shared by this class's tests, so other stuck pods may be explained beside this one.
        Assert.Contains(bundle.Summary, l => l.StartsWith("crasher-", StringComparison.Ordinal) && l.Contains("crash-looping (exit code 5): last log line: no config here", StringComparison.Ordinal));
        var nodes = await File.ReadAllTextAsync(Path.Combine(bundle.Directory, "nodes.txt"), Ct);
        Assert.Contains("Ready=True KubeletReady", nodes, StringComparison.Ordinal);
        _output.WriteLine(string.Join("\n", bundle.Summary));
    }

    [Fact]
    public async Task A_published_node_port_is_reached_through_its_host_port()
    {
        SkipWithoutK3s();
        var ns = await DeployWebAsync("nodeport");

        // kube-proxy programs a new node port a moment after the Service exists (until then the published port resets):
        // OpenServiceAsync returns once a connection stays open, so the first request right after it works.
        await using var endpoint = await Cluster.OpenServiceAsync("web", "http", ns, cancellationToken: Ct);
        var body = await GetAsync(endpoint.Url);

        var hostPort = Cluster.HostPort(RealClusterFixture.NodePort);
        Assert.Equal($"node port {RealClusterFixture.NodePort} published on host port {hostPort}", endpoint.Via);
        Assert.Equal(hostPort, endpoint.Url.Port);
        Assert.StartsWith("hello from web-", body, StringComparison.Ordinal);
        _output.WriteLine($"{endpoint.Via}: {body}");
    }

    [Fact]
    public async Task Without_a_published_port_a_port_forward_reaches_a_ready_pod_on_the_named_target_port()
    {
        SkipWithoutK3s();
        var ns = await DeployWebAsync("forward");
        var pod = (await Cluster.Kubernetes.CoreV1.ListNamespacedPodAsync(ns, labelSelector: "app=web", cancellationToken: Ct)).Items.Single().Metadata.Name;

        // The node port is published, but ServiceAccess without published ports is what an existing cluster gets.
        await using var endpoint = await new ServiceAccess(Cluster.Kubernetes).OpenAsync("web", "80", ns, cancellationToken: Ct);
        var body = await GetAsync(endpoint.Url);

        Assert.Equal($"port-forward to pod {pod}:8080", endpoint.Via);
        Assert.Equal($"hello from {pod}", body);
    }

    [Fact]
    public async Task A_port_forward_to_a_pod_that_does_not_listen_gives_up_saying_what_it_waited_for()
    {
        SkipWithoutK3s();
        var ns = Ns("deaf");
        // Ready at once (no readiness probe) yet listening nowhere: every forwarded connection is refused in the pod.
        await Cluster.DeployAsync(Settings(ns, TimeSpan.FromMinutes(2), Workload("deaf", "[sleep, '3600']", null, "ports: [{ name: web, containerPort: 8080 }]"), DeafService), Ct);

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<KubeDindException>(() => new ServiceAccess(Cluster.Kubernetes).OpenAsync("deaf", "80", ns, timeout: TimeSpan.FromSeconds(8), cancellationToken: Ct));

        _output.WriteLine($"{watch.Elapsed.TotalSeconds:0.0}s: {ex.Message}");
        Assert.StartsWith($"Service {ns}/deaf:80: gave up waiting for a TCP connection to 127.0.0.1:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("(port-forward to pod deaf-", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("check that the pod listens on that port (a pod without a readiness probe is Ready before its server listens)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_port_names_the_ports_there_are()
    {
        SkipWithoutK3s();
        var ns = await DeployWebAsync("noport");

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => Cluster.OpenServiceAsync("web", "grpc", ns, cancellationToken: Ct));

        Assert.Equal($"Service {ns}/web has no port 'grpc' (it has http:80); use one of those.", ex.Message);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task A_bundle_is_owner_only_lists_secrets_by_key_and_holds_no_secret_value_or_credential()
    {
        SkipWithoutK3s();
        var ns = Ns("privacy");
        var secretValue = "s3cr3t-db-" + Guid.NewGuid().ToString("N")[..8];
        var encoded = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(secretValue));
        var secret = $"apiVersion: v1\nkind: Secret\nmetadata: {{ name: db }}\ntype: Opaque\ndata: {{ password: {encoded} }}\n";
        // The kubelet hands the Secret to the container, which prints it and credential-looking lines into its log, then fails.
        var leaky = Workload(
            "leaky",
            "[sh, -c, 'echo \"starting with db password $DB_PASSWORD\"; printf \"db password as base64 %s\\n\" \"$(printf %s \"$DB_PASSWORD\" | base64)\"; echo \"REGISTRY_PASSWORD=$REGISTRY_PASSWORD\"; echo \"pulling with Authorization: Basic dXNlcjpodW50ZXIy\"; echo \"mirror http://ci:t0ken-in-url@mirror.example:5000\"; exit 1']",
            null,
            TestManifests.NeverReady,
            "env: [{ name: DB_PASSWORD, valueFrom: { secretKeyRef: { name: db, key: password } } }, { name: REGISTRY_PASSWORD, value: hunter2-registry }]");

        var ex = await Assert.ThrowsAsync<DeployFailedException>(() => Cluster.DeployAsync(Settings(ns, TimeSpan.FromMinutes(3), secret, leaky), Ct));

        var bundle = ex.Diagnostics!;
        var secrets = await File.ReadAllTextAsync(Path.Combine(bundle.Directory, "secrets.txt"), Ct);
        Assert.Contains($"{ns}/db (Opaque): password", secrets, StringComparison.Ordinal);
        foreach (var directory in Directory.GetDirectories(bundle.Directory, "*", SearchOption.AllDirectories).Append(bundle.Directory).Append(Path.GetDirectoryName(bundle.Directory)!))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
        }

        var everything = new System.Text.StringBuilder();
        foreach (var file in Directory.GetFiles(bundle.Directory, "*", SearchOption.AllDirectories))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            everything.Append(await File.ReadAllTextAsync(file, Ct));
        }

        var text = everything.ToString();
        foreach (var leaked in new[] { secretValue, encoded, "hunter2-registry", "dXNlcjpodW50ZXIy", "t0ken-in-url" })
        {
            Assert.DoesNotContain(leaked, text, StringComparison.Ordinal);
        }

        // The pod's log did reach the bundle, with the values blanked where they were.
        Assert.Contains("starting with db password " + KubeDind.Diagnostics.Redaction.Marker, text, StringComparison.Ordinal);
        Assert.Contains("db password as base64 " + KubeDind.Diagnostics.Redaction.Marker, text, StringComparison.Ordinal);
        Assert.Contains("mirror http://ci:" + KubeDind.Diagnostics.Redaction.Marker + "@mirror.example:5000", text, StringComparison.Ordinal);
        _output.WriteLine(string.Join("\n", bundle.Files));
    }

    [Fact]
    public async Task Without_cluster_DNS_the_log_says_why_name_lookups_are_slow_and_with_it_says_nothing()
    {
        SkipWithoutK3s();
        // Its own throwaway cluster: the test takes the cluster's DNS away, which the fixture's cluster must keep.
        var log = new CapturingLog();
        var artifacts = Path.Combine(Path.GetTempPath(), "kdt-nodns-" + Guid.NewGuid().ToString("N")[..8]);
        await using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        try
        {
            await using var cluster = await session.StartClusterAsync(new ClusterSettings { Name = ClusterTestSupport.UniqueName("nodns"), ArtifactsDirectory = artifacts }, Ct);
            var image = await cluster.PushImageAsync(await new BaseImage(session.Docker, session.Log).EnsureAsync(Ct), null, Ct);
            var workload = TestManifests.Deployment("web", image, "[sleep, '3600']");

            await cluster.DeployAsync(Settings(Ns("dns"), TimeSpan.FromMinutes(3), workload), Ct);
            Assert.DoesNotContain(log.Lines, l => l.Message.Contains("no cluster DNS", StringComparison.Ordinal));

            // A cluster whose DNS is gone: no kube-dns Service (so no Service rules for the DNS address) and no endpoints (the
            // fallback's EndpointSlice included).
            // (kubectl: a v1.21 API answers a Service's deletion with a Status, which the typed client cannot read.)
            var removed = await cluster.ExecAsync(["kubectl", "delete", "-n", "kube-system", "service/kube-dns", "endpoints/kube-dns", "endpointslices.discovery.k8s.io/kube-dns", "--ignore-not-found"], null, Ct);
            Assert.True(removed.Succeeded, removed.StandardError);
            // ...nor the DNS fallback's own answer at that address on the server's pod bridge (there so that pods are
            // answered before kube-proxy's rules exist).
            var unbound = await cluster.ExecAsync(["sh", "-c", "ip addr del \"$(cat /run/kubedind/cluster-dns)/32\" dev kubedind0"], null, Ct);
            Assert.True(unbound.Succeeded, unbound.StandardError);
            var resolve = await WaitForNoDnsAsync(cluster);
            _output.WriteLine($"cluster DNS after removing kube-dns: {resolve}");

            await cluster.DeployAsync(Settings(Ns("nodns"), TimeSpan.FromMinutes(3), workload), Ct);

            var warning = Assert.Single(log.Warnings, w => w.Contains("no cluster DNS", StringComparison.Ordinal));
            Assert.Equal($"Deploy to {cluster.Name}: no cluster DNS answers (kube-system/kube-dns does not exist; k3s's CoreDNS stays off without its air-gap images), so every name lookup in a pod waits ~5 s for the resolver to time out; give the cluster k3s's air-gap images, or reach Services by the *_SERVICE_HOST environment variables.", warning);
        }
        finally
        {
            if (Directory.Exists(artifacts))
            {
                Directory.Delete(artifacts, recursive: true);
            }
        }
    }

    /// <summary>Runs <paramref name="look"/> every half second until it answers; fails naming <paramref name="what"/> after 30 s.</summary>
    private static async Task<string> WaitForAsync(string what, Func<Task<string?>> look)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            if (await look() is { } answer)
            {
                return answer;
            }

            Assert.True(DateTime.UtcNow < deadline, $"waited 30s for {what}");
            await Task.Delay(500, Ct);
        }
    }

    /// <summary>Waits until the cluster DNS address stops answering (kube-proxy drops the Service's rules within seconds); returns the resolver's last word.</summary>
    private async Task<string> WaitForNoDnsAsync(KubeDindCluster cluster)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var result = await cluster.ExecAsync(["kubedind-resolve", "kubernetes.default.svc.cluster.local"], null, Ct);
            if (!result.Succeeded)
            {
                return result.StandardError.Trim();
            }

            Assert.True(DateTime.UtcNow < deadline, $"the cluster DNS still answers 60s after kube-dns was removed: {result.StandardOutput.Trim()}");
            await Task.Delay(1000, Ct);
        }
    }

    /// <summary>A one-pod HTTP server (perl, in the base image) answering "hello from &lt;pod&gt;", behind NodePort Service web (http:80 → named port web, node port 30080).</summary>
    private async Task<string> DeployWebAsync(string what)
    {
        var ns = Ns(what);
        var server = "[perl, -MIO::Socket::INET, -e, 'my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die \"listen: $!\"; while (my $c = $s->accept) { while (my $l = <$c>) { last if $l =~ /^\\r?$/ } print $c \"HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nConnection: close\\r\\n\\r\\nhello from $ENV{HOSTNAME}\"; close $c }']";
        var web = Workload("web", server, null, "ports: [{ name: web, containerPort: 8080 }]", "readinessProbe: { tcpSocket: { port: web }, periodSeconds: 1 }");
        // One node port for the whole class: each test takes it over for its own namespace's Service.
        await DeleteNodePortServicesAsync();
        var service = $"apiVersion: v1\nkind: Service\nmetadata: {{ name: web }}\nspec:\n  type: NodePort\n  selector: {{ app: web }}\n  ports: [{{ name: http, port: 80, targetPort: web, nodePort: {RealClusterFixture.NodePort} }}]\n";
        await Cluster.DeployAsync(Settings(ns, TimeSpan.FromMinutes(3), web, service), Ct);
        return ns;
    }

    /// <summary>A ClusterIP Service deaf:80 → the named port web of the pods labelled app=deaf.</summary>
    private const string DeafService = "apiVersion: v1\nkind: Service\nmetadata: { name: deaf }\nspec:\n  selector: { app: deaf }\n  ports: [{ name: http, port: 80, targetPort: web }]\n";

    private async Task DeleteNodePortServicesAsync()
    {
        foreach (var svc in (await Cluster.Kubernetes.CoreV1.ListServiceForAllNamespacesAsync(cancellationToken: Ct)).Items)
        {
            if (svc.Spec.Ports?.Any(p => p.NodePort == RealClusterFixture.NodePort) == true)
            {
                // kubectl: a v1.21 API answers a Service's deletion with a Status, which the typed client cannot read.
                var deleted = await Cluster.ExecAsync(["kubectl", "delete", "-n", svc.Metadata.NamespaceProperty, "service", svc.Metadata.Name], null, Ct);
                Assert.True(deleted.Succeeded, deleted.StandardError);
            }
        }
    }

    private static async Task<string> GetAsync(Uri url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        return (await http.GetStringAsync(url, Ct)).Trim();
    }

    private static DeploySettings Settings(string ns, TimeSpan timeout, params string[] manifests) => new()
    {
        InlineManifests = manifests,
        Namespace = ns,
        Timeout = timeout,
    };

    private static string Ns(string what) => $"kdt-{what}-{Guid.NewGuid().ToString("N")[..6]}";

    private string Workload(string name, string command, string? volumes = null, params string[] container) =>
        TestManifests.Deployment(name, _fixture.Image, command, volumes, container);

    private static void SkipWithoutK3s()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(ClusterTestSupport.NoK3sReason);
        }
    }
}
