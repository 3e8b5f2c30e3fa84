using System.Text;
using Docker.DotNet.Models;
using k8s;
using k8s.Models;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// Warm start. Without k3s: the state key, and what a restore does with an empty, half-written or complete state
/// (a fake state: a volume with the files a restore checks for, restored into a created container of the base image).
/// With KUBEDIND_K3S_BINARY: a cold start saves the state, and two parallel warm starts each run on their own copy.
/// </summary>
[Collection("Cluster")]
public sealed class WarmStartTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void State_key_changes_with_each_input_and_names_what_changed()
    {
        var settings = new ClusterSettings();
        var key = ClusterStateKey.For(settings, "sha256:aaa", "v1.21.2+k3s1");
        Assert.Equal(key.Hash, ClusterStateKey.For(settings with { Name = "other", ApiHostPort = 6443, Labels = new Dictionary<string, string> { ["a"] = "b" } }, "sha256:aaa", "v1.21.2+k3s1").Hash);
        Assert.Matches("^[0-9a-f]{16}$", key.Hash);

        var changed = new[]
        {
            ClusterStateKey.For(settings, "sha256:bbb", "v1.21.2+k3s1"),
            ClusterStateKey.For(settings, "sha256:aaa", "v1.22.0+k3s1"),
            ClusterStateKey.For(settings with { K3sArgs = ["--disable=coredns"] }, "sha256:aaa", "v1.21.2+k3s1"),
            ClusterStateKey.For(settings with { Environment = new Dictionary<string, string> { ["X"] = "1" } }, "sha256:aaa", "v1.21.2+k3s1"),
            ClusterStateKey.For(settings with { MirrorUrls = ["http://m:5000"] }, "sha256:aaa", "v1.21.2+k3s1"),
            ClusterStateKey.For(settings with { Traefik = true }, "sha256:aaa", "v1.21.2+k3s1"),
            ClusterStateKey.For(settings with { AirgapImages = "/nonexistent/k3s-airgap-images-amd64.tar" }, "sha256:aaa", "v1.21.2+k3s1"),
        };
        Assert.Equal(changed.Length, changed.Select(k => k.Hash).Append(key.Hash).Distinct().Count() - 1);

        var labels = key.ToLabels();
        Assert.Equal(["image"], changed[0].DifferencesFrom(labels));
        Assert.Equal(["k3s-version"], changed[1].DifferencesFrom(labels));
        Assert.Equal(["k3s-args"], changed[2].DifferencesFrom(labels));
        Assert.Equal(["components"], changed[5].DifferencesFrom(labels));
        Assert.Equal(["components"], changed[6].DifferencesFrom(labels));
        Assert.Empty(key.DifferencesFrom(labels));
    }

    [Fact]
    public void A_warm_start_asks_the_API_for_readiness_without_the_checks_its_restored_state_settled()
    {
        Assert.Equal("/readyz?verbose", ClusterGates.ApiReadyzPath(warm: false));
        Assert.Equal(
            "/readyz?verbose&exclude=poststarthook%2Frbac%2Fbootstrap-roles&exclude=poststarthook%2Fscheduling%2Fbootstrap-system-priority-classes",
            ClusterGates.ApiReadyzPath(warm: true));
    }

    [Fact]
    public void Freshness_ignores_status_written_before_the_container_started()
    {
        var started = new DateTimeOffset(2026, 1, 1, 12, 0, 0, 400, TimeSpan.Zero);
        V1Node Node(DateTime heartbeat) => new() { Status = new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "Ready", Status = "True", LastHeartbeatTime = heartbeat }] } };
        Assert.False(ClusterFreshness.IsFreshReady(Node(new DateTime(2026, 1, 1, 11, 59, 59, DateTimeKind.Utc)), started));
        Assert.True(ClusterFreshness.IsFreshReady(Node(new DateTime(2026, 1, 1, 12, 0, 0, DateTimeKind.Utc)), started));

        V1Pod Pod(DateTime containerStarted) => new()
        {
            Status = new V1PodStatus
            {
                Conditions = [new V1PodCondition { Type = "Ready", Status = "True" }],
                ContainerStatuses = [new V1ContainerStatus { Name = "c", State = new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = containerStarted } } }],
            },
        };
        Assert.False(ClusterFreshness.IsFreshReady(Pod(new DateTime(2026, 1, 1, 11, 0, 0, DateTimeKind.Utc)), started));
        Assert.True(ClusterFreshness.IsFreshReady(Pod(new DateTime(2026, 1, 1, 12, 0, 3, DateTimeKind.Utc)), started));
    }

    [Fact]
    public void A_node_Ready_since_the_start_with_the_not_ready_taint_kept_from_before_has_a_stale_taint()
    {
        var started = new DateTimeOffset(2026, 1, 1, 12, 0, 0, 400, TimeSpan.Zero);
        V1Node Node(string ready, DateTime heartbeat, params string[] taints) => new()
        {
            Spec = new V1NodeSpec { Taints = taints.Select(key => new V1Taint { Key = key, Effect = "NoSchedule" }).ToList() },
            Status = new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "Ready", Status = ready, LastHeartbeatTime = heartbeat }] },
        };
        var fresh = new DateTime(2026, 1, 1, 12, 0, 2, DateTimeKind.Utc);
        var old = new DateTime(2026, 1, 1, 11, 0, 0, DateTimeKind.Utc);
        Assert.True(ClusterFreshness.HasStaleNotReadyTaint(Node("True", fresh, "node.kubernetes.io/not-ready"), started));
        Assert.False(ClusterFreshness.HasStaleNotReadyTaint(Node("True", fresh), started));
        Assert.False(ClusterFreshness.HasStaleNotReadyTaint(Node("True", fresh, "dedicated"), started));
        // Not Ready now, or Ready only by the saved status: the taint is the controller's to keep.
        Assert.False(ClusterFreshness.HasStaleNotReadyTaint(Node("False", fresh, "node.kubernetes.io/not-ready"), started));
        Assert.False(ClusterFreshness.HasStaleNotReadyTaint(Node("True", old, "node.kubernetes.io/not-ready"), started));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("2026-01-01T11:58:00.000000000Z", false)]
    [InlineData("not a time", false)]
    [InlineData("2026-01-01T12:00:00.100000000Z", true)]
    [InlineData("2026-01-01T12:00:02.731408112Z", true)]
    public void The_storage_fallback_counts_as_serving_once_its_class_says_it_began_since_the_container_started(string? since, bool serving)
    {
        var started = new DateTimeOffset(2026, 1, 1, 12, 0, 0, 400, TimeSpan.Zero);
        var annotations = new Dictionary<string, string> { ["storageclass.kubernetes.io/is-default-class"] = "true" };
        if (since is not null)
        {
            annotations[ImageContract.Current.StorageServingSinceAnnotation] = since;
        }

        Assert.Equal(serving, ClusterFreshness.IsStorageServingSince(new V1StorageClass { Metadata = new V1ObjectMeta { Name = "local-path", Annotations = annotations } }, started));
    }

    [Theory]
    [InlineData("empty", "it has no completion marker")]
    [InlineData("half-written", "it has no completion marker")]
    [InlineData("other-key", "its marker names another key")]
    [InlineData("no-datastore", "it has no k3s datastore")]
    public async Task Unusable_state_means_a_cold_start_with_a_warning_and_the_state_removed(string kind, string why)
    {
        var log = new CapturingLog();
        await using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        var key = ClusterStateKey.For(new ClusterSettings(), "sha256:kdt-" + Guid.NewGuid().ToString("N"), "fake");
        string[] files = kind switch
        {
            "empty" => Array.Empty<string>(),
            "half-written" => ["server/tls/server-ca.crt", "server/db/state.db"],
            "other-key" => ["server/tls/server-ca.crt", "server/db/state.db", ".kubedind-state-complete=0000000000000000"],
            _ => [".kubedind-state-complete=" + key.Hash, "server/tls/server-ca.crt"],
        };
        var (state, container, image) = await FakeStateAsync(session, key, files);
        try
        {
            var store = new ClusterStateStore(session);
            Assert.Equal(state.Volume, (await store.FindAsync(key, Ct)).State?.Volume);
            Assert.False(await store.RestoreAsync("kdt-warm", state, key, container, image, Ct));

            var warning = Assert.Single(log.Warnings);
            Assert.Contains($"cold start: the saved state {state.Volume} cannot be used: {why}", warning, StringComparison.Ordinal);
            Assert.DoesNotContain((await store.ListAsync(Ct)).Select(s => s.Volume), v => v == state.Volume);
            Assert.Empty(await ListAsync(session, container, "/var/lib/rancher/k3s"));
        }
        finally
        {
            await CleanUpAsync(session, state.Volume, container);
        }
    }

    [Fact]
    public async Task Complete_state_is_copied_into_the_new_container_without_its_marker()
    {
        var log = new CapturingLog();
        await using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        var key = ClusterStateKey.For(new ClusterSettings(), "sha256:kdt-" + Guid.NewGuid().ToString("N"), "fake");
        var (state, container, image) = await FakeStateAsync(session, key, [".kubedind-state-complete=" + key.Hash, "server/tls/server-ca.crt", "server/db/state.db"]);
        try
        {
            var store = new ClusterStateStore(session);
            Assert.True(await store.RestoreAsync("kdt-warm", state, key, container, image, Ct));
            Assert.Empty(log.Warnings);
            Assert.Equal(["./server/db/state.db", "./server/tls/server-ca.crt"], await ListAsync(session, container, "/var/lib/rancher/k3s"));
        }
        finally
        {
            await CleanUpAsync(session, state.Volume, container);
        }
    }

    [Fact]
    public async Task Kubernetes_cold_start_saves_the_state_and_parallel_warm_starts_each_get_their_own_copy()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(ClusterTestSupport.NoK3sReason);
        }

        var log = new CapturingLog();
        await using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        // A label only this test uses: its own state key, so states of other runs are neither used nor replaced.
        var marker = Guid.NewGuid().ToString("N")[..8];

        // A kube-system pod in the saved state (k3s applies the manifests in this folder at every start): on a warm start
        // its saved status says Ready from before the save, and the kube-system gate must wait until it is Ready again.
        var manifests = Directory.CreateTempSubdirectory("kdt-warm-manifests-").FullName;
        await File.WriteAllTextAsync(Path.Combine(manifests, "kdt-warm-probe.yaml"), StalePodProbe, Ct);
        ClusterSettings Settings(string what) => ClusterTestSupport.KubernetesSettings(what) with
        {
            WarmStart = true,
            K3sArgs = [$"--node-label=kdt-warm={marker}"],
            Mounts = [new BindMount(manifests, "/var/lib/rancher/k3s/server/manifests/kdt", ReadOnly: true)],
        };

        string? stateVolume = null;
        try
        {
            await using (var cold = await session.StartClusterAsync(Settings("cold"), Ct))
            {
                output.WriteLine($"cold: {cold.Timings.Start}; {cold.Timings}");
                Assert.StartsWith("cold start: ", cold.Timings.Start, StringComparison.Ordinal);
                var saved = log.Lines.Where(l => l.Message.Contains("state saved for warm starts as ", StringComparison.Ordinal)).ToList();
                Assert.True(saved.Count == 1, $"the cold start did not say once that it saved its state; its warnings:\n{string.Join('\n', log.Warnings)}");
                stateVolume = saved[0].Message.Split(" as ")[1].Split(' ')[0];
                // Made after the save: must not reappear in a warm start.
                await cold.Kubernetes.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "from-the-cold-run" } }, "default", cancellationToken: Ct);
            }

            var warm = await Task.WhenAll(session.StartClusterAsync(Settings("warm-a"), Ct), session.StartClusterAsync(Settings("warm-b"), Ct));
            try
            {
                // Schedulable at readiness: the not-ready taint a saved state may hold is gone without waiting for the
                // node lifecycle controller, which starts seconds after the API answers.
                foreach (var cluster in warm)
                {
                    var node = Assert.Single((await cluster.Kubernetes.CoreV1.ListNodeAsync(cancellationToken: Ct)).Items);
                    Assert.DoesNotContain(node.Spec.Taints ?? [], t => t.Key == "node.kubernetes.io/not-ready");
                }

                // Cluster DNS answers from readiness on, also while kube-proxy writes its first rules: a kube-dns
                // Service it saw without endpoints had every query rejected (EPERM) until the controller manager
                // mirrored the Endpoints, seconds after the API answered.
                var gaps = await Task.WhenAll(warm.Select(cluster => DnsFailuresAsync(cluster, TimeSpan.FromSeconds(6))));
                Assert.True(gaps.All(g => g.Count == 0), "cluster DNS failed after readiness:\n" + string.Join('\n', gaps.SelectMany(g => g)));
                foreach (var cluster in warm)
                {
                    // Whatever the saved state caught, the DNS fallback's Service has its endpoints from the fallback
                    // itself, not from the controller manager's mirroring, which starts seconds after the API answers.
                    var service = await cluster.Kubernetes.CoreV1.ReadNamespacedServiceAsync("kube-dns", "kube-system", cancellationToken: Ct);
                    if (service.Labels()?.TryGetValue("kubernetes.io/name", out var implementation) == true && implementation == "KubeDind-dnsmasq")
                    {
                        var slice = Assert.Single((await cluster.Kubernetes.DiscoveryV1.ListNamespacedEndpointSliceAsync("kube-system", labelSelector: "kubernetes.io/service-name=kube-dns", cancellationToken: Ct)).Items);
                        Assert.Equal("kubedind.io", slice.Labels()["endpointslice.kubernetes.io/managed-by"]);
                        Assert.Contains(slice.Endpoints, e => e.Conditions?.Ready == true && e.Addresses.Count == 1);
                    }
                }

                foreach (var cluster in warm)
                {
                    output.WriteLine($"{cluster.Name}: {cluster.Timings.Start}; {cluster.Timings}");
                    Assert.StartsWith($"warm start from {stateVolume} (saved ", cluster.Timings.Start, StringComparison.Ordinal);

                    // The node reports the new container's address, freshly Ready.
                    var address = (await session.Docker.Containers.InspectContainerAsync(cluster.ContainerId, Ct)).NetworkSettings.Networks[cluster.Network].IPAddress;
                    var node = Assert.Single((await cluster.Kubernetes.CoreV1.ListNodeAsync(cancellationToken: Ct)).Items);
                    Assert.Contains(node.Status.Addresses, a => a.Type == "InternalIP" && a.Address == address);

                    // Ready again in this container, not only by the status saved before the save.
                    var started = DateTimeOffset.Parse((await session.Docker.Containers.InspectContainerAsync(cluster.ContainerId, Ct)).State.StartedAt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);
                    var probe = Assert.Single((await cluster.Kubernetes.CoreV1.ListNamespacedPodAsync("kube-system", labelSelector: "app=kdt-warm-probe", cancellationToken: Ct)).Items);
                    Assert.True(ClusterFreshness.IsFreshReady(probe, started), $"{probe.Metadata.Name} passed the gate on the Ready status saved before the save (container started {started:O}, pod container started {probe.Status.ContainerStatuses?.FirstOrDefault()?.State?.Running?.StartedAt:O})");
                    Assert.Empty((await cluster.Kubernetes.CoreV1.ListNamespacedConfigMapAsync("default", fieldSelector: "metadata.name=from-the-cold-run", cancellationToken: Ct)).Items);

                    // Its readiness did not wait for the API server's hooks that make sure the bootstrap roles and
                    // priority classes exist: the restored state holds them already.
                    Assert.NotNull(await cluster.Kubernetes.RbacAuthorizationV1.ReadClusterRoleAsync("system:node-proxier", cancellationToken: Ct));
                    Assert.NotNull(await cluster.Kubernetes.RbacAuthorizationV1.ReadClusterRoleBindingAsync("system:node-proxier", cancellationToken: Ct));
                    Assert.NotNull(await cluster.Kubernetes.SchedulingV1.ReadPriorityClassAsync("system-cluster-critical", cancellationToken: Ct));

                    // The serving certificate is valid for the new container name (and localhost).
                    foreach (var host in new[] { cluster.Name, "localhost", "127.0.0.1" })
                    {
                        var curl = await cluster.ExecAsync("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", "/var/lib/rancher/k3s/server/tls/server-ca.crt", $"https://{host}:6443/version");
                        Assert.True(curl.StandardOutput.Trim() is "200" or "401", $"TLS to {host}: {curl.StandardOutput} {curl.StandardError}");
                    }
                }

                // Each has its own writable copy.
                await warm[0].Kubernetes.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "only-in-a" } }, "default", cancellationToken: Ct);
                Assert.Empty((await warm[1].Kubernetes.CoreV1.ListNamespacedConfigMapAsync("default", fieldSelector: "metadata.name=only-in-a", cancellationToken: Ct)).Items);
            }
            finally
            {
                foreach (var cluster in warm)
                {
                    await cluster.DisposeAsync();
                }
            }
        }
        finally
        {
            if (stateVolume is not null)
            {
                await new ClusterStateStore(session).RemoveAsync(stateVolume, CancellationToken.None);
            }

            Directory.Delete(manifests, recursive: true);
        }
    }

    /// <summary>Resolves a Service name in <paramref name="cluster"/> as its pods do, again and again for <paramref name="duration"/>; returns every failure, timed from the first try.</summary>
    private static async Task<List<string>> DnsFailuresAsync(KubeDindCluster cluster, TimeSpan duration)
    {
        List<string> failures = [];
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (watch.Elapsed < duration)
        {
            var result = await cluster.ExecAsync(["kubedind-resolve", "kubernetes.default.svc.cluster.local"], null, Ct);
            if (!result.Succeeded)
            {
                failures.Add($"{cluster.Name} at {watch.Elapsed.TotalSeconds:0.0}s: {result.StandardError.Trim()}");
            }

            await Task.Delay(200, Ct);
        }

        return failures;
    }

    /// <summary>A kube-system Deployment of the pause image, which every cluster container imports at start (nothing to pull).</summary>
    private const string StalePodProbe = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: { name: kdt-warm-probe, namespace: kube-system }
        spec:
          selector: { matchLabels: { app: kdt-warm-probe } }
          template:
            metadata: { labels: { app: kdt-warm-probe } }
            spec:
              terminationGracePeriodSeconds: 0
              containers: [{ name: pause, image: "kubedind/pause:3.10", imagePullPolicy: Never }]
        """;

    /// <summary>
    /// The unlabelled containers and volumes these tests make by hand are named outside <see cref="ClusterTestSupport.Prefix"/>:
    /// other collections' "nothing left behind" checks count unlabelled resources with that prefix as their own.
    /// </summary>
    private const string OwnPrefix = "kdt-warmtest-";

    /// <summary>A fake state volume holding <paramref name="files"/> ("path" empty, "path=text"), and a created container with a k3s state volume.</summary>
    private static async Task<(SavedClusterState State, string Container, string Image)> FakeStateAsync(KubeDindSession session, ClusterStateKey key, string[] files)
    {
        var image = await new BaseImage(session.Docker, session.Log).EnsureAsync(Ct);
        var labels = key.ToLabels();
        labels[KubeDindLabels.Owner] = KubeDindLabels.OwnerValue;
        labels[KubeDindLabels.Role] = ClusterStateStore.Role;
        labels[ClusterStateStore.SavedLabel] = DateTimeOffset.UtcNow.ToString("O");
        labels[ClusterStateStore.FromLabel] = "kdt-warm-fake";
        var volume = $"{OwnPrefix}state-{Guid.NewGuid().ToString("N")[..8]}";
        await session.Docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = volume, Labels = labels }, Ct);
        var script = new StringBuilder("set -e\n");
        foreach (var file in files)
        {
            var (path, text) = file.Split('=', 2) is [var p, var t] ? (p, t) : (file, string.Empty);
            script.Append(System.Globalization.CultureInfo.InvariantCulture, $"mkdir -p \"$(dirname /s/{path})\"; printf '%s\\n' '{text}' > /s/{path}\n");
        }

        await RunAsync(session, image, script.ToString(), [new Mount { Type = "volume", Source = volume, Target = "/s" }]);
        var created = await session.Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Name = $"{OwnPrefix}{Guid.NewGuid().ToString("N")[..8]}",
            Entrypoint = ["/bin/true"],
            HostConfig = new HostConfig { Mounts = [new Mount { Type = "volume", Target = "/var/lib/rancher/k3s" }] },
        }, Ct);
        return (new SavedClusterState(volume, DateTimeOffset.UtcNow, "kdt-warm-fake", labels), created.ID, image);
    }

    /// <summary>The files under <paramref name="path"/> in the (stopped) container's volume, relative and sorted.</summary>
    private static async Task<string[]> ListAsync(KubeDindSession session, string container, string path)
    {
        var inspect = await session.Docker.Containers.InspectContainerAsync(container, Ct);
        var volume = inspect.Mounts.Single(m => m.Destination == path).Name;
        var output = await RunAsync(session, inspect.Image, "cd /v && find . -type f | sort", [new Mount { Type = "volume", Source = volume, Target = "/v", ReadOnly = true }]);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith("./", StringComparison.Ordinal)).ToArray();
    }

    private static async Task<string> RunAsync(KubeDindSession session, string image, string script, IList<Mount> mounts)
    {
        var created = await session.Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = image,
            Name = $"{OwnPrefix}helper-{Guid.NewGuid().ToString("N")[..8]}",
            Entrypoint = ["/bin/sh", "-c", script],
            HostConfig = new HostConfig { Mounts = mounts, NetworkMode = "none" },
        }, Ct);
        try
        {
            await session.Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), Ct);
            var wait = await session.Docker.Containers.WaitContainerAsync(created.ID, Ct);
            var logs = await ContainerLogs.TailAsync(session.Docker, created.ID, 100, Ct);
            Assert.True(wait.StatusCode == 0, $"helper failed ({wait.StatusCode}): {logs}");
            return logs;
        }
        finally
        {
            await session.Docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
        }
    }

    private static async Task CleanUpAsync(KubeDindSession session, string volume, string container)
    {
        await session.Docker.Containers.RemoveContainerAsync(container, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
        try
        {
            await session.Docker.Volumes.RemoveAsync(volume, force: true, CancellationToken.None);
        }
        catch (global::Docker.DotNet.DockerApiException)
        {
            // Removed by the test already.
        }
    }
}
