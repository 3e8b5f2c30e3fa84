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
/// PushImage, Deploy (the example, and the 3-image, 6-pod app in tests/apps/three-tier; after PushImage with the layer
/// store on and off, and with the images present) against <c>kubectl apply</c> + <c>rollout status</c>, the example's system test end to end (layer store on and off) against the same job done by
/// hand, 3 parallel clusters against 1; and teardown (with the 3-image app running), leftovers, memory, the cold
/// start's per-phase timeline. Written to artifacts/bench/ (results.md,
/// results.json, ratios.png). Numbers are recorded, never asserted.
/// </summary>
internal static class Bench
{
    private const string PayloadImage = "kubedind/bench-payload:100mb";
    private const string ExampleImage = "kubedind/bench-example-app:bench";
    private const string ExampleRedisImage = "kubedind/bench-example-redis:bench";
    private const string ThreeTierWebImage = "kubedind/bench-three-tier-web:bench";
    private const string ThreeTierApiImage = "kubedind/bench-three-tier-api:bench";
    private const string ThreeTierRedisImage = "kubedind/bench-three-tier-redis:bench";

    /// <summary>The example's fixed NodePort (examples/app/deploy/service.yaml), which its system test calls from the host.</summary>
    private const int ExampleNodePort = 30080;

    /// <summary>PushImage again and LoadImage again, alternating, per run (see where they are measured).</summary>
    private const int AgainSamplesPerRun = 5;

    private static readonly string[] ExampleDeployments = ["example-redis", "example-app"];
    private static readonly string[] ThreeTierDeployments = ["redis", "api", "worker", "web"];

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

        var example = exampleAppPublish is null ? null : await EnsureExampleImageAsync(session, exampleAppPublish, cancellationToken);
        var redis = startOnly ? null : await EnsureExampleRedisImageAsync(session, cancellationToken);
        var threeTier = startOnly ? null : await EnsureThreeTierImagesAsync(session, cancellationToken);
        var kubectl = BenchPeers.FindKubectl(k3s);
        List<BenchApp> apps = [];
        if (example is not null && redis is not null)
        {
            apps.Add(new BenchApp("example", "Deploy of the example", Path.Combine(Repository.Root, "examples", "app", "deploy"), new Dictionary<string, string> { ["kubedind-example-app:dev"] = example, ["kubedind-example-redis:dev"] = redis }, ExampleDeployments, Goal: null));
        }

        if (threeTier is not null)
        {
            apps.Add(new BenchApp("3tier", "Deploy of a 3-image, 6-pod app", ThreeTierManifests, threeTier, ThreeTierDeployments, Goal: 0.5));
        }

        var deploys = apps.ToDictionary(a => a.Name, _ => new DeployFigures());

        // Builds (or checks) the image and makes sure a saved state exists for the warm runs; not counted.
        string image;
        PrivilegeMode mode;
        await using (var first = await session.StartClusterAsync(settings("prepare", true, true), cancellationToken))
        {
            (image, mode) = (first.Image, first.Privilege);
            // The payload and the example's images as a previous build left them: in the engine's layer store.
            await first.PushImageAsync(PayloadImage, "payload", cancellationToken);
            // The apps' images pushed and deployed too, so the store also holds their layers unpacked, as a previous
            // build's run leaves them.
            foreach (var app in apps)
            {
                await DeployAfterPushAsync(first, app, "prepare", cancellationToken);
            }

            log.Info($"bench: prepared ({first.Timings.Start})");
        }

        List<double> bare = [], cold = [], warm = [], teardown = [], teardownWithPods = [], memory = [], push = [], pushStored = [], dockerPush = [], pushAgain = [], load = [], loadAgain = [];
        List<double> endToEnd = [], endToEndNoStore = [], byHand = [], atRest = [], bareAtRest = [];
        var podsAtTeardown = 0;
        string? podsAtTeardownWhich = null;

        // Interleaved run by run, so a change in the machine's load hits both sides of a ratio alike.
        for (var run = 1; run <= runs; run++)
        {
            log.Info($"bench: run {run} of {runs}");
            var (bareSeconds, bareCores) = await BenchPeers.BareK3sColdAsync(session, image, mode, cancellationToken);
            bare.Add(bareSeconds);
            bareAtRest.Add(bareCores);
            log.Info($"bench: bare k3s cold: {bare[^1]:0.0}s");

            var watch = Stopwatch.StartNew();
            // Without the layer store: its push goes into a fresh registry as a plain docker push does.
            var coldCluster = await session.StartClusterAsync(settings("cold", false, false), cancellationToken);
            cold.Add(watch.Elapsed.TotalSeconds);
            results.AddPhases("cold StartCluster", coldCluster.Timings.Phases());
            memory.Add(await MemoryMiBAsync(session, coldCluster.ContainerId, cancellationToken));
            atRest.Add(await BenchPeers.CoresAtRestAsync(session, coldCluster.ContainerId, cancellationToken));
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

            // PushImage into a fresh registry and LoadImage the same, then each again with everything present: those take
            // tens of milliseconds, where one sample's noise is as large as their difference, so they alternate, several
            // of each per run.
            await PushThenLoadPayloadAsync(coldCluster, push, load, cancellationToken);
            for (var again = 0; again < AgainSamplesPerRun; again++)
            {
                await PushThenLoadPayloadAsync(coldCluster, pushAgain, loadAgain, cancellationToken);
            }

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

                if (kubectl is not null && apps.Count > 0)
                {
                    // PushImage (nothing sent: the store has every layer) then Deploy, which finds them unpacked.
                    foreach (var app in apps)
                    {
                        deploys[app.Name].StoreOn.Add(await DeployAfterPushAsync(warmCluster, app, $"stored-{run}", cancellationToken));
                        log.Info($"bench: {app.Name}: Deploy after PushImage, layer store on: {deploys[app.Name].StoreOn[^1]:0.0}s");
                    }

                    // Deploy and kubectl side by side with every image already in this cluster's containerd.
                    foreach (var app in apps)
                    {
                        var (ours, theirs) = await DeployBothAsync(warmCluster, app, kubectl, $"present-{run}", cancellationToken);
                        deploys[app.Name].ImagesPresent.Add(ours);
                        deploys[app.Name].KubectlImagesPresent.Add(theirs);
                    }
                }

                if (threeTier is not null && kubectl is not null)
                {
                    // The teardown below then has the 3-image app's 6 pods running, and only them besides the system's.
                    (podsAtTeardown, podsAtTeardownWhich) = await KeepOnlyNamespaceAsync(warmCluster, $"bench-deploy-3tier-stored-{run}", cancellationToken);
                }
                else
                {
                    podsAtTeardown = (await warmCluster.Kubernetes.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: cancellationToken)).Items.Count(p => p.Status?.Phase == "Running");
                }
            }
            finally
            {
                watch.Restart();
                await warmCluster.TeardownAsync(cancellationToken: CancellationToken.None);
                teardownWithPods.Add(watch.Elapsed.TotalSeconds);
            }

            if (kubectl is not null && apps.Count > 0)
            {
                await DeployWithoutStoreAsync(session, apps, deploys, kubectl, () => settings("deploy-nostore", true, false), () => settings("deploy-kubectl", true, false), run, cancellationToken);
            }

            // The example's system test end to end: ours with the layer store on, by hand, ours with the store off.
            if (example is not null && redis is not null && kubectl is not null)
            {
                endToEnd.Add(await ExampleEndToEndAsync(session, settings("e2e", true, true), example, redis, cancellationToken));
                log.Info($"bench: example end to end, layer store on: {endToEnd[^1]:0.0}s");
                byHand.Add(await BenchPeers.ExampleByHandAsync(session, image, mode, kubectl, example, redis, ByHandManifests, ExampleNodePort, "/greeting?name=bench", ExampleDeployments, cancellationToken));
                log.Info($"bench: example end to end by hand: {byHand[^1]:0.0}s");
                endToEndNoStore.Add(await ExampleEndToEndAsync(session, settings("e2e-nostore", true, false), example, redis, cancellationToken));
                log.Info($"bench: example end to end, layer store off: {endToEndNoStore[^1]:0.0}s");
            }
        }

        results.Note += "Peers: bare k3s cold = the same image with the same container flags running k3s alone on its embedded containerd, polled from the host until the node is Ready and the default service account exists; StartCluster is timed to its own readiness (every gate). PushImage and docker push each go into a fresh registry. ";
        results.Ratios.Add(new BenchRatio("cold StartCluster", "bare k3s cold", cold, bare));
        results.Ratios.Add(new BenchRatio("warm StartCluster", "bare k3s cold", warm, bare));
        results.Ratios.Add(new BenchRatio($"CPU of a ready cluster at rest ({BenchPeers.RestWindow.TotalSeconds:0} s from {BenchPeers.SettleBeforeRest.TotalSeconds:0} s after a cold start)", "bare k3s at rest, the same way", atRest, bareAtRest, Unit: "cores"));
        if (startOnly)
        {
            return;
        }

        results.Ratios.Add(new BenchRatio("PushImage of an unchanged ~100 MB image into a new cluster, layer store on", "docker push into a fresh registry", pushStored, dockerPush, Goal: 0.1));
        results.Ratios.Add(new BenchRatio("PushImage ~100 MB into a new cluster, layer store off", "docker push into a fresh registry", push, dockerPush));
        results.Ratios.Add(new BenchRatio("LoadImage ~100 MB, first", "PushImage, first (layer store off)", load, push));
        results.Ratios.Add(new BenchRatio("LoadImage ~100 MB, again", "PushImage, again (layers present)", loadAgain, pushAgain));
        const string NoKubectl = "no kubectl found (KUBEDIND_KUBECTL, beside the k3s binary, or on PATH)";
        const string NoExample = "the example app was not published (run Bench through build.sh, which publishes it)";
        if (kubectl is null)
        {
            results.Skipped.Add(new BenchSkip("Deploy / kubectl apply + rollout status", NoKubectl));
        }
        else if (example is null)
        {
            results.Skipped.Add(new BenchSkip("Deploy of the example / kubectl apply + rollout status", NoExample));
        }

        const string KubectlPulling = "kubectl apply -f + rollout status, pulling what PushImage sent (store off)";
        foreach (var app in apps.Where(a => deploys[a.Name].StoreOn.Count > 0))
        {
            var figures = deploys[app.Name];
            results.Ratios.Add(new BenchRatio($"{app.Measure} after PushImage, layer store on", KubectlPulling, figures.StoreOn, figures.Kubectl, Goal: app.Goal));
            results.Ratios.Add(new BenchRatio($"{app.Measure} after PushImage, layer store off", KubectlPulling, figures.StoreOff, figures.Kubectl));
            results.Ratios.Add(new BenchRatio($"{app.Measure}, images already in the cluster", "kubectl apply -f + rollout status, the same images present", figures.ImagesPresent, figures.KubectlImagesPresent));
        }

        if (apps.Count > 0 && kubectl is not null)
        {
            results.Note += "Deploy rows: each app's images are pushed first (not counted), then the manifests applied and every Deployment waited for (counted). Layer store on: a warm cluster whose store holds every layer, pushed and unpacked by an earlier cluster, as a previous build leaves it; layer store off and kubectl: a warm cluster each, without the store, so the pods' pulls fetch and unpack what the push sent, as after a plain docker push. Both apps go into each cluster one after the other (the example first; the two share no image, nor a layer beyond the base image's). \"Images already in the cluster\": Deploy and kubectl side by side in the store-on cluster once every image is in its containerd, so only the applying and waiting differ. ";
        }

        if (endToEnd.Count > 0)
        {
            const string ByHand = "the same job done by hand";
            results.Ratios.Add(new BenchRatio("example SystemTest end to end, warm, layer store on", ByHand, endToEnd, byHand, Goal: 0.35));
            results.Ratios.Add(new BenchRatio("example SystemTest end to end, warm, layer store off", ByHand, endToEndNoStore, byHand));
            results.Note += "Example SystemTest end to end: ours = warm StartCluster (the NodePort published) pushing the example app and its Redis while k3s boots (ImagesToPush, as the example does) + Deploy of examples/app/deploy + one GET /greeting through the NodePort from the host + Teardown, once with the layer store on (a previous build pushed both images) and once off. "
                + "By hand = docker run of a registry (distribution 2.8 on the cluster network, on a loopback port) + bare k3s cold (as above, with a registries.yaml written before k3s starts that sends that loopback name to the registry over http, and the NodePort published) + docker push of both images + kubectl apply + rollout status + the same GET + docker rm -f of both; every step one after the other, as ours. "
                + "The by-hand manifests differ in one way: Redis keeps its data in an emptyDir instead of the PersistentVolumeClaim, since bare k3s here has no storage provisioner (its image cannot be pulled offline; nor can CoreDNS's, and GET /greeting needs neither), so the peer does a little less than ours. ";
        }
        else
        {
            results.Skipped.Add(new BenchSkip("example SystemTest end to end / the same job done by hand", example is null ? NoExample : NoKubectl));
        }

        results.Note += "Layer store: the teardown rows' clusters had every pushed layer in the store already, so teardown keeps nothing; the end to end rows run with the store on and off. ";
        results.Figures.Add(new BenchFigure("teardown of a ready cluster", teardown, "s"));
        results.Figures.Add(new BenchFigure(podsAtTeardownWhich is null ? $"teardown with {podsAtTeardown} pods running (all namespaces)" : $"teardown with the 3-image app's 6 pods running ({podsAtTeardown} running in all: {podsAtTeardownWhich})", teardownWithPods, "s", Goal: 3));
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

    /// <summary>PushImage, then LoadImage, of the payload into <paramref name="cluster"/>, each timed into its list.</summary>
    private static async Task PushThenLoadPayloadAsync(KubeDindCluster cluster, List<double> pushes, List<double> loads, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await cluster.PushImageAsync(PayloadImage, "payload", cancellationToken);
        pushes.Add(watch.Elapsed.TotalSeconds);
        watch.Restart();
        await cluster.LoadImageAsync(PayloadImage, cancellationToken);
        loads.Add(watch.Elapsed.TotalSeconds);
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

    private static string ThreeTierManifests => Path.Combine(Repository.Root, "tests", "apps", "three-tier", "deploy");

    /// <summary>An app the Deploy rows deploy: its manifests, its images (name in the manifests → host image), its Deployments.</summary>
    private sealed record BenchApp(string Name, string Measure, string Manifests, IReadOnlyDictionary<string, string> Images, IReadOnlyList<string> Deployments, double? Goal);

    /// <summary>One app's Deploy samples: after PushImage with the store on and off, kubectl's, and both with the images present.</summary>
    private sealed class DeployFigures
    {
        public List<double> StoreOn { get; } = [];

        public List<double> StoreOff { get; } = [];

        public List<double> Kubectl { get; } = [];

        public List<double> ImagesPresent { get; } = [];

        public List<double> KubectlImagesPresent { get; } = [];
    }

    /// <summary>
    /// The store-off Deploy rows and their kubectl peer, each in a warm cluster of its own without the layer store: a
    /// cluster's containerd keeps what one of them pulled, so the other would find it unpacked.
    /// </summary>
    private static async Task DeployWithoutStoreAsync(KubeDindSession session, IReadOnlyList<BenchApp> apps, IReadOnlyDictionary<string, DeployFigures> deploys, string kubectl, Func<ClusterSettings> ours, Func<ClusterSettings> peer, int run, CancellationToken cancellationToken)
    {
        await using (var cluster = await session.StartClusterAsync(ours(), cancellationToken))
        {
            foreach (var app in apps)
            {
                deploys[app.Name].StoreOff.Add(await DeployAfterPushAsync(cluster, app, $"unstored-{run}", cancellationToken));
                session.Log.Info($"bench: {app.Name}: Deploy after PushImage, layer store off: {deploys[app.Name].StoreOff[^1]:0.0}s");
            }
        }

        await using (var cluster = await session.StartClusterAsync(peer(), cancellationToken))
        {
            foreach (var app in apps)
            {
                var references = await PushAllAsync(cluster, app, cancellationToken);
                deploys[app.Name].Kubectl.Add(await TimedKubectlAsync(cluster, app, references, kubectl, $"bench-kubectl-{app.Name}-{run}", cancellationToken));
                session.Log.Info($"bench: {app.Name}: kubectl apply + rollout status after PushImage, store off: {deploys[app.Name].Kubectl[^1]:0.0}s");
            }
        }
    }

    /// <summary>PushImage of <paramref name="app"/>'s images (not counted), then seconds for Deploy of its manifests into a namespace of its own.</summary>
    private static async Task<double> DeployAfterPushAsync(KubeDindCluster cluster, BenchApp app, string suffix, CancellationToken cancellationToken)
    {
        var references = await PushAllAsync(cluster, app, cancellationToken);
        return await WithManifestsAsync(app.Manifests, references, manifests => TimedDeployAsync(cluster, manifests, $"bench-deploy-{app.Name}-{suffix}", cancellationToken), cancellationToken);
    }

    private static async Task<Dictionary<string, string>> PushAllAsync(KubeDindCluster cluster, BenchApp app, CancellationToken cancellationToken)
    {
        var references = new Dictionary<string, string>();
        foreach (var (name, hostImage) in app.Images)
        {
            references[name] = await cluster.PushImageAsync(hostImage, null, cancellationToken);
        }

        return references;
    }

    private static async Task<double> TimedDeployAsync(KubeDindCluster cluster, string manifests, string @namespace, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await cluster.DeployAsync(new DeploySettings { Manifests = [manifests], Namespace = @namespace }, cancellationToken);
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Runs <paramref name="use"/> on a copy of the manifests in <paramref name="directory"/> with the images' names
    /// replaced by <paramref name="references"/>, and without a fixed NodePort, so apps in two namespaces do not collide.
    /// Ours and kubectl read the same text.
    /// </summary>
    private static async Task<double> WithManifestsAsync(string directory, IReadOnlyDictionary<string, string> references, Func<string, Task<double>> use, CancellationToken cancellationToken)
    {
        var manifests = Path.Combine(Path.GetTempPath(), $"kubedind-bench-manifests-{Guid.NewGuid():N}");
        Directory.CreateDirectory(manifests);
        try
        {
            foreach (var file in Directory.GetFiles(directory, "*.yaml"))
            {
                var text = string.Join('\n', File.ReadAllLines(file).Where(l => !l.TrimStart().StartsWith("nodePort:", StringComparison.Ordinal)));
                text = references.Aggregate(text, (t, r) => t.Replace(r.Key, r.Value, StringComparison.Ordinal));
                await File.WriteAllTextAsync(Path.Combine(manifests, Path.GetFileName(file)), text, cancellationToken);
            }

            return await use(manifests);
        }
        finally
        {
            Directory.Delete(manifests, recursive: true);
        }
    }

    /// <summary>
    /// <paramref name="app"/> deployed by Deploy and by kubectl, each into its own namespace, with its images side-loaded
    /// first, so neither pulls: seconds for each.
    /// </summary>
    private static async Task<(double Ours, double Theirs)> DeployBothAsync(KubeDindCluster cluster, BenchApp app, string kubectl, string suffix, CancellationToken cancellationToken)
    {
        var references = new Dictionary<string, string>();
        foreach (var (name, hostImage) in app.Images)
        {
            references[name] = await cluster.LoadImageAsync(hostImage, cancellationToken);
        }

        var ours = await WithManifestsAsync(app.Manifests, references, manifests => TimedDeployAsync(cluster, manifests, $"bench-deploy-{app.Name}-{suffix}", cancellationToken), cancellationToken);
        var theirs = await TimedKubectlAsync(cluster, app, references, kubectl, $"bench-kubectl-{app.Name}-{suffix}", cancellationToken);
        return (ours, theirs);
    }

    /// <summary>The peer: seconds for kubectl apply + rollout status of <paramref name="app"/>'s manifests into a new namespace (created first, not counted).</summary>
    private static async Task<double> TimedKubectlAsync(KubeDindCluster cluster, BenchApp app, IReadOnlyDictionary<string, string> references, string kubectl, string @namespace, CancellationToken cancellationToken)
    {
        await cluster.Kubernetes.CoreV1.CreateNamespaceAsync(new k8s.Models.V1Namespace { Metadata = new k8s.Models.V1ObjectMeta { Name = @namespace } }, cancellationToken: cancellationToken);
        return await WithManifestsAsync(app.Manifests, references, manifests => BenchPeers.KubectlApplyAsync(kubectl, cluster.KubeconfigPath!, manifests, @namespace, app.Deployments, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Removes every other bench-* namespace with its pods at once (no grace), waits until their pods are gone, and
    /// returns how many pods run then and which besides <paramref name="keep"/>'s ("none", or namespace/name prefixes).
    /// </summary>
    private static async Task<(int Running, string Others)> KeepOnlyNamespaceAsync(KubeDindCluster cluster, string keep, CancellationToken cancellationToken)
    {
        var client = cluster.Kubernetes;
        var others = (await client.CoreV1.ListNamespaceAsync(cancellationToken: cancellationToken)).Items.Select(n => n.Metadata.Name).Where(n => n.StartsWith("bench-", StringComparison.Ordinal) && n != keep).ToHashSet();
        foreach (var name in others)
        {
            await client.CoreV1.DeleteNamespaceAsync(name, cancellationToken: cancellationToken);
            await client.CoreV1.DeleteCollectionNamespacedPodAsync(name, gracePeriodSeconds: 0, cancellationToken: cancellationToken);
        }

        var waited = Stopwatch.StartNew();
        while (true)
        {
            var pods = (await client.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: cancellationToken)).Items;
            if (!pods.Any(p => others.Contains(p.Metadata.NamespaceProperty)))
            {
                var running = pods.Where(p => p.Status?.Phase == "Running").ToList();
                var besides = running.Where(p => p.Metadata.NamespaceProperty != keep).Select(p => $"{p.Metadata.NamespaceProperty}/{PodPrefix(p.Metadata.Name)}").Distinct().ToList();
                return (running.Count, besides.Count == 0 ? "no system pods" : "also " + string.Join(", ", besides));
            }

            if (waited.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new KubeDindException($"bench: the pods of {string.Join(", ", others)} were still there 60 s after deleting them with no grace");
            }

            await Task.Delay(500, cancellationToken);
        }
    }

    /// <summary>A pod's name without the ReplicaSet and pod hashes a Deployment adds (coredns-7448499f4d-abcde → coredns).</summary>
    private static string PodPrefix(string name)
    {
        var parts = name.Split('-');
        return parts.Length > 2 ? string.Join('-', parts[..^2]) : name;
    }

    /// <summary>
    /// Seconds for the example's system test with KubeDind: warm StartCluster (the example's NodePort published) pushing
    /// the app and Redis while it starts + Deploy of examples/app/deploy + one GET /greeting through the NodePort + Teardown.
    /// </summary>
    private static async Task<double> ExampleEndToEndAsync(KubeDindSession session, ClusterSettings settings, string exampleImage, string redisImage, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        // As the example does it: the start pushes both images while k3s boots.
        var cluster = await session.StartClusterAsync(settings with { Ports = [new PortMapping(ExampleNodePort)], ImagesToPush = [exampleImage, redisImage] }, cancellationToken);
        try
        {
            var rewrites = new Dictionary<string, string> { ["kubedind-example-app:dev"] = cluster.Images[exampleImage], ["kubedind-example-redis:dev"] = cluster.Images[redisImage] };
            await cluster.DeployAsync(new DeploySettings { Manifests = [Path.Combine(Repository.Root, "examples", "app", "deploy")], ImageRewrites = rewrites }, cancellationToken);
            await BenchPeers.HttpGetAsync(new Uri($"http://{cluster.PublishedHost}:{cluster.HostPort(ExampleNodePort)}/greeting?name=bench"), cancellationToken);
        }
        finally
        {
            await cluster.TeardownAsync(cancellationToken: CancellationToken.None);
        }

        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The example's manifests as a user of bare k3s here would write them (a new directory): images from the registry
    /// at <paramref name="registryHost"/>, Redis's data in an emptyDir (no storage provisioner offline).
    /// </summary>
    private static string ByHandManifests(string registryHost)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"kubedind-bench-byhand-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        foreach (var file in Directory.GetFiles(Path.Combine(Repository.Root, "examples", "app", "deploy"), "*.yaml"))
        {
            var documents = File.ReadAllText(file).Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n---\n")
                .Where(d => !d.Contains("kind: PersistentVolumeClaim", StringComparison.Ordinal))
                .Select(d => d
                    .Replace("kubedind-example-app:dev", $"{registryHost}/bench/example-app:bench", StringComparison.Ordinal)
                    .Replace("kubedind-example-redis:dev", $"{registryHost}/bench/example-redis:bench", StringComparison.Ordinal)
                    .Replace("persistentVolumeClaim:\n            claimName: redis-data", "emptyDir: {}", StringComparison.Ordinal))
                .ToList();
            if (documents.Any(d => d.Contains("persistentVolumeClaim", StringComparison.Ordinal)))
            {
                throw new KubeDindException($"bench: {file} still names a PersistentVolumeClaim after the by-hand rewrite; update Bench.ByHandManifests to the example's manifests");
            }

            File.WriteAllText(Path.Combine(directory, Path.GetFileName(file)), string.Join("\n---\n", documents));
        }

        return directory;
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

    /// <summary>The 3-image app's images (tests/apps/three-tier: web, api, redis), by the names its manifests use.</summary>
    private static async Task<IReadOnlyDictionary<string, string>> EnsureThreeTierImagesAsync(KubeDindSession session, CancellationToken cancellationToken)
    {
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(cancellationToken);
        var images = new ImageStore(session.Docker, session.Log);
        var app = Path.Combine(Repository.Root, "tests", "apps", "three-tier");
        foreach (var (directory, tag) in new[] { ("web", ThreeTierWebImage), ("api", ThreeTierApiImage), ("redis", ThreeTierRedisImage) })
        {
            await images.BuildAsync(BuildContext.FromDirectory(Path.Combine(app, directory)), tag, new Dictionary<string, string> { ["BASE_IMAGE"] = baseImage }, new Dictionary<string, string> { [KubeDindLabels.Owner] = KubeDindLabels.OwnerValue }, cancellationToken);
        }

        return new Dictionary<string, string>
        {
            ["three-tier-web:dev"] = ThreeTierWebImage,
            ["three-tier-api:dev"] = ThreeTierApiImage,
            ["three-tier-redis:dev"] = ThreeTierRedisImage,
        };
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
        if ((await BenchPeers.StatsAsync(session, containerId, cancellationToken))?.MemoryStats is not { } memory)
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
