using System.Diagnostics;
using Docker.DotNet.Models;
using k8s;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Mirror;

namespace KubeDind.BuildTool;

/// <summary>
/// Speed as ratios against peers measured side by side in the same run, each the median of several runs: cold and
/// warm StartCluster against bare k3s in the same image, PushImage against <c>docker push</c>, LoadImage against
/// PushImage, Deploy against <c>kubectl apply</c> + <c>rollout status</c>, 3 parallel clusters against 1; and
/// teardown, leftovers, memory, the cold start's per-phase timeline. Written to artifacts/bench/ (results.md,
/// results.json, ratios.png). Numbers are recorded, never asserted.
/// </summary>
internal static class Bench
{
    private const string PayloadImage = "kubedind/bench-payload:100mb";
    private const string ExampleImage = "kubedind/bench-example-app:bench";
    private const string ExampleRedisImage = "kubedind/bench-example-redis:bench";

    public static async Task<int> RunAsync(KubeDindSession session, string outputDirectory, int runs, string? exampleAppPublish, bool startOnly, CancellationToken cancellationToken)
    {
        var k3s = ClusterImage.K3sBinaryFromEnvironment();
        var kubernetes = k3s is not null;
        var results = new BenchResults { Runs = runs, Kubernetes = kubernetes };
        var leftoversBefore = await CountOwnedAsync(session, cancellationToken);
        await EnsurePayloadAsync(session, cancellationToken);

        ClusterSettings Settings(string what, bool warmStart = true, bool layerStore = true) => new()
        {
            Name = $"kubedind-bench-{what}-{session.RunId}-{Guid.NewGuid().ToString("N")[..4]}",
            Kubernetes = kubernetes,
            ImageBuild = kubernetes ? new ClusterImageSettings { K3sBinary = k3s } : null,
            WarmStart = warmStart,
            LayerStore = new LayerStoreSettings { Enabled = layerStore },
            SweepFirst = false,
        };

        if (!kubernetes)
        {
            const string Why = "needs k3s: KUBEDIND_K3S_BINARY is unset";
            foreach (var row in new[] { "cold StartCluster / bare k3s cold", "warm StartCluster / bare k3s cold", "Deploy / kubectl apply + rollout status", "1 vs 3 parallel clusters", "memory of a ready cluster" })
            {
                results.Skipped.Add(new BenchSkip(row, Why));
            }

            await PushRowsAsync(session, runs, layerStore => Settings("compose", layerStore: layerStore), results, cancellationToken);
        }
        else
        {
            await KubernetesRowsAsync(session, runs, k3s!, Settings, startOnly ? null : exampleAppPublish, startOnly, results, cancellationToken);
        }

        if (startOnly)
        {
            results.Note += "Only the start rows were measured (--start-only). ";
        }
        else
        {
            await MirrorRowAsync(session, results, cancellationToken);
        }

        var leftovers = await CountOwnedAsync(session, cancellationToken) - leftoversBefore;
        results.Figures.Add(new BenchFigure("leftovers after every teardown (containers + volumes + networks of this run)", [leftovers], "count"));
        await results.WriteAsync(outputDirectory, cancellationToken);
        return 0;
    }

    private static async Task KubernetesRowsAsync(KubeDindSession session, int runs, string k3s, Func<string, bool, bool, ClusterSettings> settings, string? exampleAppPublish, bool startOnly, BenchResults results, CancellationToken cancellationToken)
    {
        var log = session.Log;

        // Builds (or checks) the image and makes sure a saved state exists for the warm runs; not counted.
        string image;
        PrivilegeMode mode;
        await using (var first = await session.StartClusterAsync(settings("prepare", true, true), cancellationToken))
        {
            (image, mode) = (first.Image, first.Privilege);
            // The payload as a previous build left it: in the engine's layer store.
            await first.PushImageAsync(PayloadImage, "payload", cancellationToken);
            log.Info($"bench: prepared ({first.Timings.Start})");
        }

        var example = exampleAppPublish is null ? null : await EnsureExampleImageAsync(session, exampleAppPublish, cancellationToken);
        var redis = exampleAppPublish is null ? null : await EnsureExampleRedisImageAsync(session, cancellationToken);
        var kubectl = BenchPeers.FindKubectl(k3s);
        List<double> bare = [], cold = [], warm = [], teardown = [], teardownWithPods = [], memory = [], push = [], pushStored = [], dockerPush = [], pushAgain = [], load = [], loadAgain = [], deploy = [], kubectlApply = [];
        var podsAtTeardown = 0;

        // Interleaved run by run, so a change in the machine's load hits both sides of a ratio alike.
        for (var run = 1; run <= runs; run++)
        {
            log.Info($"bench: run {run} of {runs}");
            bare.Add(await BenchPeers.BareK3sColdAsync(session, image, mode, cancellationToken));
            log.Info($"bench: bare k3s cold: {bare[^1]:0.0}s");

            var watch = Stopwatch.StartNew();
            // Without the layer store: its push goes into a fresh registry as a plain docker push does.
            var coldCluster = await session.StartClusterAsync(settings("cold", false, false), cancellationToken);
            cold.Add(watch.Elapsed.TotalSeconds);
            results.AddPhases("cold StartCluster", coldCluster.Timings.Phases());
            memory.Add(await MemoryMiBAsync(session, coldCluster.ContainerId, cancellationToken));
            if (startOnly)
            {
                await coldCluster.TeardownAsync(cancellationToken: cancellationToken);
                watch.Restart();
                await using var warmOnly = await session.StartClusterAsync(settings("warm", true, true), cancellationToken);
                warm.Add(watch.Elapsed.TotalSeconds);
                results.AddPhases("warm StartCluster", warmOnly.Timings.Phases());
                NoteIfNotWarm(results, run, warmOnly);
                continue;
            }

            // PushImage into a fresh registry, again with the layers present, then LoadImage the same twice.
            watch.Restart();
            await coldCluster.PushImageAsync(PayloadImage, "payload", cancellationToken);
            push.Add(watch.Elapsed.TotalSeconds);
            watch.Restart();
            await coldCluster.PushImageAsync(PayloadImage, "payload", cancellationToken);
            pushAgain.Add(watch.Elapsed.TotalSeconds);
            watch.Restart();
            await coldCluster.LoadImageAsync(PayloadImage, cancellationToken);
            load.Add(watch.Elapsed.TotalSeconds);
            watch.Restart();
            await coldCluster.LoadImageAsync(PayloadImage, cancellationToken);
            loadAgain.Add(watch.Elapsed.TotalSeconds);

            watch.Restart();
            await coldCluster.TeardownAsync(cancellationToken: cancellationToken);
            teardown.Add(watch.Elapsed.TotalSeconds);

            watch.Restart();
            var warmCluster = await session.StartClusterAsync(settings("warm", true, true), cancellationToken);
            try
            {
                warm.Add(watch.Elapsed.TotalSeconds);
                results.AddPhases("warm StartCluster", warmCluster.Timings.Phases());
                NoteIfNotWarm(results, run, warmCluster);

                // The unchanged payload into this new cluster, with the layer store; docker push into a fresh registry.
                watch.Restart();
                await warmCluster.PushImageAsync(PayloadImage, "payload", cancellationToken);
                pushStored.Add(watch.Elapsed.TotalSeconds);
                dockerPush.Add(await BenchPeers.DockerPushIntoFreshRegistryAsync(session, PayloadImage, cancellationToken));

                if (example is not null && redis is not null && kubectl is not null)
                {
                    var (ours, theirs) = await DeployBothAsync(warmCluster, example, redis, kubectl, run, cancellationToken);
                    deploy.Add(ours);
                    kubectlApply.Add(theirs);
                    podsAtTeardown = (await warmCluster.Kubernetes.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: cancellationToken)).Items.Count(p => p.Status?.Phase == "Running");
                }
            }
            finally
            {
                watch.Restart();
                await warmCluster.TeardownAsync(cancellationToken: CancellationToken.None);
                teardownWithPods.Add(watch.Elapsed.TotalSeconds);
            }
        }

        results.Note += "Peers: bare k3s cold = the same image with the same container flags running k3s alone on its embedded containerd, polled from the host until the node is Ready and the default service account exists; StartCluster is timed to its own readiness (every gate). PushImage and docker push each go into a fresh registry. ";
        results.Ratios.Add(new BenchRatio("cold StartCluster", "bare k3s cold", cold, bare));
        results.Ratios.Add(new BenchRatio("warm StartCluster", "bare k3s cold", warm, bare));
        if (startOnly)
        {
            return;
        }

        results.Ratios.Add(new BenchRatio("PushImage of an unchanged ~100 MB image into a new cluster, layer store on", "docker push into a fresh registry", pushStored, dockerPush, Goal: 0.1));
        results.Ratios.Add(new BenchRatio("PushImage ~100 MB into a new cluster, layer store off", "docker push into a fresh registry", push, dockerPush));
        results.Ratios.Add(new BenchRatio("LoadImage ~100 MB, first", "PushImage, first (layer store off)", load, push));
        results.Ratios.Add(new BenchRatio("LoadImage ~100 MB, again", "PushImage, again (layers present)", loadAgain, pushAgain));
        if (deploy.Count > 0)
        {
            results.Ratios.Add(new BenchRatio("Deploy of the example", "kubectl apply -f + rollout status", deploy, kubectlApply));
        }
        else
        {
            results.Skipped.Add(new BenchSkip("Deploy / kubectl apply + rollout status", example is null ? "the example app was not published (run Bench through build.sh, which publishes it)" : "no kubectl found (KUBEDIND_KUBECTL, beside the k3s binary, or on PATH)"));
        }

        results.Figures.Add(new BenchFigure("teardown of a ready cluster", teardown, "s"));
        results.Figures.Add(new BenchFigure($"teardown with {podsAtTeardown} pods running (all namespaces)", teardownWithPods, "s", Goal: 3));
        results.Figures.Add(new BenchFigure("memory of a ready cluster (cold start, usage less page cache)", memory, "MiB"));

        // Time to ready of 3 clusters started at once (the slowest), against one alone, both warm.
        List<double> parallel = [];
        for (var run = 1; run <= runs; run++)
        {
            var watch = Stopwatch.StartNew();
            var clusters = await Task.WhenAll(Enumerable.Range(1, 3).Select(i => session.StartClusterAsync(settings($"parallel{i}", true, true), cancellationToken)));
            parallel.Add(watch.Elapsed.TotalSeconds);
            foreach (var cluster in clusters)
            {
                await cluster.DisposeAsync();
            }
        }

        results.Ratios.Add(new BenchRatio("3 parallel warm clusters, time to ready", "1 warm cluster", parallel, warm));
    }

    private static void NoteIfNotWarm(BenchResults results, int run, KubeDindCluster cluster)
    {
        if (!cluster.Timings.Start.StartsWith("warm", StringComparison.Ordinal))
        {
            results.Note += $"Run {run}: the \"warm\" start was not warm ({cluster.Timings.Start}). ";
        }
    }

    /// <summary>
    /// Bytes the mirror fetched from its upstream when the ~100 MB image is pulled through it a first and a second
    /// time (the mirror's own usage counts). No internet here: a compose-mode cluster's registry is the upstream.
    /// </summary>
    private static async Task MirrorRowAsync(KubeDindSession session, BenchResults results, CancellationToken cancellationToken)
    {
        await using var upstream = await session.StartClusterAsync(new ClusterSettings { Kubernetes = false, Name = $"kubedind-bench-upstream-{session.RunId}", SweepFirst = false }, cancellationToken);
        var reference = await upstream.PushImageAsync(PayloadImage, "bench/payload:100mb", cancellationToken);
        var (repository, tag) = (reference[(reference.IndexOf('/', StringComparison.Ordinal) + 1)..reference.LastIndexOf(':')], reference[(reference.LastIndexOf(':') + 1)..]);
        var settings = new MirrorSettings { Name = $"kubedind-bench-mirror-{session.RunId}" }.WithOnly(new MirrorRegistry("docker.io", $"http://{upstream.Name}:5000"));
        try
        {
            var mirror = await session.StartMirrorAsync(settings, cancellationToken);
            var endpoint = mirror.Find("docker.io")!.HostUrl;
            List<double> bytes = [];
            for (var run = 1; run <= 2; run++)
            {
                // The window starts at this pull, not earlier: the proxy may log storing the previous run's last
                // blob ("Adding new scheduler entry") just after serving it, and inside an earlier window that
                // entry would count this run's cache hit as a fetch from upstream.
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                var since = DateTimeOffset.UtcNow;
                await BenchPeers.PullThroughAsync(endpoint, repository, tag, cancellationToken);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                bytes.Add((await mirror.ReadUsageAsync(since, cancellationToken)).BytesFromUpstream / 1048576.0);
            }

            results.Figures.Add(new BenchFigure("upstream MB through the mirror, first run (~100 MB image)", [bytes[0]], "MB"));
            results.Figures.Add(new BenchFigure("upstream MB through the mirror, second run", [bytes[1]], "MB"));
        }
        finally
        {
            await session.StopMirrorAsync(settings.Name, removeCache: true, CancellationToken.None);
        }
    }

    /// <summary>Compose mode (no k3s): PushImage against docker push, each into a fresh compose cluster's registry.</summary>
    private static async Task PushRowsAsync(KubeDindSession session, int runs, Func<bool, ClusterSettings> settings, BenchResults results, CancellationToken cancellationToken)
    {
        List<double> push = [], pushStored = [], dockerPush = [], teardown = [];
        await using (var first = await session.StartClusterAsync(settings(true), cancellationToken))
        {
            await first.PushImageAsync(PayloadImage, "payload", cancellationToken);   // into the layer store, as a previous build
        }

        for (var run = 1; run <= runs; run++)
        {
            foreach (var (layerStore, samples) in new[] { (false, push), (true, pushStored) })
            {
                var ours = await session.StartClusterAsync(settings(layerStore), cancellationToken);
                var watch = Stopwatch.StartNew();
                await ours.PushImageAsync(PayloadImage, "payload", cancellationToken);
                samples.Add(watch.Elapsed.TotalSeconds);
                watch.Restart();
                await ours.TeardownAsync(cancellationToken: cancellationToken);
                teardown.Add(watch.Elapsed.TotalSeconds);
            }

            dockerPush.Add(await BenchPeers.DockerPushIntoFreshRegistryAsync(session, PayloadImage, cancellationToken));
        }

        results.Ratios.Add(new BenchRatio("PushImage of an unchanged ~100 MB image into a new cluster, layer store on", "docker push into a fresh registry", pushStored, dockerPush, Goal: 0.1));
        results.Ratios.Add(new BenchRatio("PushImage ~100 MB into a new cluster, layer store off", "docker push into a fresh registry", push, dockerPush));
        results.Skipped.Add(new BenchSkip("LoadImage / PushImage", "needs k3s: KUBEDIND_K3S_BINARY is unset (LoadImage goes into the cluster's container runtime)"));
        results.Figures.Add(new BenchFigure("teardown of a ready compose-mode cluster", teardown, "s"));
    }

    /// <summary>The example's manifests deployed by Deploy and by kubectl, each into its own namespace, both from the side-loaded image.</summary>
    private static async Task<(double Ours, double Theirs)> DeployBothAsync(KubeDindCluster cluster, string exampleImage, string redisImage, string kubectl, int run, CancellationToken cancellationToken)
    {
        var reference = await cluster.LoadImageAsync(exampleImage, cancellationToken);
        var redisReference = await cluster.LoadImageAsync(redisImage, cancellationToken);
        var manifests = Path.Combine(Path.GetTempPath(), $"kubedind-bench-manifests-{Guid.NewGuid():N}");
        Directory.CreateDirectory(manifests);
        try
        {
            // Both from the same text; the fixed NodePort goes, so the two namespaces do not collide.
            foreach (var file in Directory.GetFiles(Path.Combine(Repository.Root, "examples", "app", "deploy"), "*.yaml"))
            {
                var text = string.Join('\n', File.ReadAllLines(file).Where(l => !l.TrimStart().StartsWith("nodePort:", StringComparison.Ordinal)));
                await File.WriteAllTextAsync(Path.Combine(manifests, Path.GetFileName(file)), text.Replace("kubedind-example-app:dev", reference, StringComparison.Ordinal).Replace("kubedind-example-redis:dev", redisReference, StringComparison.Ordinal), cancellationToken);
            }

            var watch = Stopwatch.StartNew();
            await cluster.DeployAsync(new DeploySettings { Manifests = [manifests], Namespace = $"bench-deploy-{run}" }, cancellationToken);
            var ours = watch.Elapsed.TotalSeconds;
            await cluster.Kubernetes.CoreV1.CreateNamespaceAsync(new k8s.Models.V1Namespace { Metadata = new k8s.Models.V1ObjectMeta { Name = $"bench-kubectl-{run}" } }, cancellationToken: cancellationToken);
            var theirs = await BenchPeers.KubectlApplyAsync(kubectl, cluster.KubeconfigPath!, manifests, $"bench-kubectl-{run}", ["example-redis", "example-app"], cancellationToken);
            return (ours, theirs);
        }
        finally
        {
            Directory.Delete(manifests, recursive: true);
        }
    }

    private static async Task<string> EnsureExampleImageAsync(KubeDindSession session, string publishDirectory, CancellationToken cancellationToken)
    {
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(cancellationToken);
        var context = BuildContext.FromDirectory(publishDirectory).AddFile("Dockerfile", Path.Combine(Repository.Root, "examples", "app", "Dockerfile"));
        await new ImageStore(session.Docker, session.Log).BuildAsync(context, ExampleImage, new Dictionary<string, string> { ["BASE_IMAGE"] = baseImage }, new Dictionary<string, string> { [KubeDindLabels.Owner] = KubeDindLabels.OwnerValue }, cancellationToken);
        return ExampleImage;
    }

    /// <summary>The example's Redis (examples/redis: Debian's redis-server on the base image), which its manifests deploy beside the app.</summary>
    private static async Task<string> EnsureExampleRedisImageAsync(KubeDindSession session, CancellationToken cancellationToken)
    {
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(cancellationToken);
        var context = BuildContext.FromDirectory(Path.Combine(Repository.Root, "examples", "redis"));
        await new ImageStore(session.Docker, session.Log).BuildAsync(context, ExampleRedisImage, new Dictionary<string, string> { ["BASE_IMAGE"] = baseImage }, new Dictionary<string, string> { [KubeDindLabels.Owner] = KubeDindLabels.OwnerValue }, cancellationToken);
        return ExampleRedisImage;
    }

    private static async Task EnsurePayloadAsync(KubeDindSession session, CancellationToken cancellationToken)
    {
        var images = new ImageStore(session.Docker, session.Log);
        if (await images.ExistsAsync(PayloadImage, cancellationToken))
        {
            return;
        }

        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(cancellationToken);
        var context = new BuildContext().AddText("Dockerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN head -c 104857600 /dev/urandom > /payload.bin\n");
        await images.BuildAsync(context, PayloadImage, new Dictionary<string, string> { ["BASE_IMAGE"] = baseImage }, new Dictionary<string, string> { [KubeDindLabels.Owner] = KubeDindLabels.OwnerValue }, cancellationToken);
    }

    private static async Task<double> MemoryMiBAsync(KubeDindSession session, string containerId, CancellationToken cancellationToken)
    {
        ContainerStatsResponse? stats = null;
        await session.Docker.Containers.GetContainerStatsAsync(
            containerId,
            new ContainerStatsParameters { Stream = false },
            new Progress<ContainerStatsResponse>(s => stats = s),
            cancellationToken);
        for (var i = 0; i < 20 && stats is null; i++)
        {
            await Task.Delay(100, cancellationToken);
        }

        if (stats?.MemoryStats is not { } memory)
        {
            return double.NaN;
        }

        // What `docker stats` shows: usage less the page cache.
        var cache = memory.Stats is { } s && s.TryGetValue("cache", out var c) ? c : 0UL;
        return (memory.Usage - cache) / 1048576.0;
    }

    private static async Task<int> CountOwnedAsync(KubeDindSession session, CancellationToken cancellationToken)
    {
        var filter = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{KubeDindLabels.RunId}={session.RunId}"] = true } };
        var containers = await session.Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, cancellationToken);
        var volumes = await session.Docker.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, cancellationToken);
        var networks = await session.Docker.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }, cancellationToken);
        return containers.Count + (volumes.Volumes?.Count ?? 0) + networks.Count;
    }
}

/// <summary>The repository's root: the first directory upwards holding KubeDind.sln.</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var directory = new DirectoryInfo(Directory.GetCurrentDirectory()); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "KubeDind.sln")))
            {
                return directory.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
