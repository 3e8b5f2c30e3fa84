using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Docker.DotNet.Models;
using KubeDind;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Mirror;

namespace KubeDind.BuildTool;

/// <summary>
/// Speed and memory of the five steps on this machine, written to artifacts/bench/: mirror cold start and
/// reuse, cluster start (per gate), memory of a ready cluster, push and side-load of a ~100 MB image,
/// teardown, and what was left behind. Numbers are recorded, never asserted.
/// </summary>
internal static class Bench
{
    private const string PayloadImage = "kubedind/bench-payload:100mb";
    private const string MirroredPayload = "bench-payload:mirrored";

    public static async Task<int> RunAsync(KubeDindSession session, string outputDirectory, int runs, CancellationToken cancellationToken)
    {
        var k3s = ClusterImage.K3sBinaryFromEnvironment();
        var kubernetes = !string.IsNullOrEmpty(k3s);
        var rows = new List<(string Measure, double Value, string Unit)>();
        void Record(string measure, double value, string unit)
        {
            rows.Add((measure, value, unit));
            session.Log.Info($"bench: {measure} = {value.ToString("0.00", CultureInfo.InvariantCulture)} {unit}");
        }

        var before = await CountOwnedAsync(session, cancellationToken);
        await EnsurePayloadAsync(session, cancellationToken);
        var imageSettings = kubernetes ? new ClusterImageSettings { K3sBinary = k3s } : null;
        var watch = Stopwatch.StartNew();

        // No internet registry here: a compose-mode cluster's registry stands in for the mirror's upstream.
        await using (var upstream = await session.StartClusterAsync(new ClusterSettings { Kubernetes = false, Name = $"kubedind-bench-upstream-{session.RunId}" }, cancellationToken))
        {
            var mirrorName = $"kubedind-bench-mirror-{session.RunId}";
            var mirrorSettings = new MirrorSettings { Name = mirrorName }.WithOnly(new MirrorRegistry("docker.io", $"http://{upstream.Name}:5000"));
            try
            {
                watch.Restart();
                var mirror = await session.StartMirrorAsync(mirrorSettings, cancellationToken);
                Record("mirror: first start (image cached)", watch.Elapsed.TotalSeconds, "s");
                watch.Restart();
                await session.StartMirrorAsync(mirrorSettings, cancellationToken);
                Record("mirror: reuse of a running mirror", watch.Elapsed.TotalSeconds, "s");

                // What each cluster's dockerd pulls as docker.io/library/<MirroredPayload> comes through the mirror.
                await upstream.PushImageAsync(PayloadImage, $"library/{MirroredPayload}", cancellationToken);

                for (var run = 1; run <= runs; run++)
                {
                    await BenchClusterAsync(session, run, kubernetes, imageSettings, mirror, Record, cancellationToken);
                }
            }
            finally
            {
                await session.StopMirrorAsync(mirrorName, removeCache: true, CancellationToken.None);
            }
        }

        var after = await CountOwnedAsync(session, cancellationToken);
        Record("leftovers (containers + volumes + networks, after - before)", after - before, "count");
        await WriteAsync(outputDirectory, kubernetes, rows, cancellationToken);
        return 0;
    }

    private static async Task BenchClusterAsync(KubeDindSession session, int run, bool kubernetes, ClusterImageSettings? imageSettings, KubeDindMirror mirror, Action<string, double, string> record, CancellationToken cancellationToken)
    {
        await using var cluster = await session.StartClusterAsync(
            new ClusterSettings { Kubernetes = kubernetes, ImageBuild = imageSettings }.WithMirror(mirror), cancellationToken);
        var timings = cluster.Timings;
        record($"cluster #{run}: container started", timings.ContainerStarted.TotalSeconds, "s");
        foreach (var (gate, elapsed) in timings.Gates)
        {
            record($"cluster #{run}: gate '{gate}'", elapsed.TotalSeconds, "s");
        }

        record($"cluster #{run}: ready", timings.Ready.TotalSeconds, "s");
        record($"cluster #{run}: memory when ready", await MemoryMiBAsync(session, cluster.ContainerId, cancellationToken), "MiB");

        // Before the side-load below puts the same layers into the inner dockerd: a fresh cluster pulls all of them.
        var since = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        var pull = await cluster.ExecAsync("docker", "pull", MirroredPayload);
        if (!pull.Succeeded)
        {
            throw new KubeDindException($"bench: the cluster could not pull {MirroredPayload} through the mirror: {pull.FirstErrorLine}");
        }

        record($"cluster #{run}: pull ~100 MB image through the mirror", watch.Elapsed.TotalSeconds, "s");
        // The proxy logs a fetched blob once it has stored it, a moment after serving it: read until the counts settle.
        var usage = (await mirror.ReadUsageAsync(since, cancellationToken)).Find("docker.io")!;
        for (var i = 0; i < 10; i++)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            var again = (await mirror.ReadUsageAsync(since, cancellationToken)).Find("docker.io")!;
            if (again.BytesFromUpstream == usage.BytesFromUpstream)
            {
                break;
            }

            usage = again;
        }

        record($"cluster #{run}: mirror bytes from upstream", usage.BytesFromUpstream / 1048576.0, "MiB");
        record($"cluster #{run}: mirror bytes from cache", usage.BytesFromCache / 1048576.0, "MiB");

        watch.Restart();
        await cluster.PushImageAsync(PayloadImage, $"payload-{run}", cancellationToken);
        record($"cluster #{run}: push ~100 MB image", watch.Elapsed.TotalSeconds, "s");
        watch.Restart();
        await cluster.LoadImageAsync(PayloadImage, cancellationToken);
        record($"cluster #{run}: side-load ~100 MB image", watch.Elapsed.TotalSeconds, "s");
        record($"cluster #{run}: memory after push and load", await MemoryMiBAsync(session, cluster.ContainerId, cancellationToken), "MiB");

        watch.Restart();
        await cluster.TeardownAsync(cancellationToken: cancellationToken);
        record($"cluster #{run}: teardown", watch.Elapsed.TotalSeconds, "s");
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

    private static async Task WriteAsync(string directory, bool kubernetes, List<(string Measure, double Value, string Unit)> rows, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var machine = $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0:0} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";
        var markdown = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"# KubeDind bench, {DateTimeOffset.UtcNow:u}")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {machine}. Mode: {(kubernetes ? "Kubernetes (k3s)" : "compose mode (no k3s binary: KUBEDIND_K3S_BINARY unset)")}.")
            .AppendLine()
            .AppendLine("| measure | value | unit |")
            .AppendLine("|---|---:|---|");
        foreach (var (measure, value, unit) in rows)
        {
            markdown.AppendLine(CultureInfo.InvariantCulture, $"| {measure} | {value:0.00} | {unit} |");
        }

        await File.WriteAllTextAsync(Path.Combine(directory, "results.md"), markdown.ToString(), cancellationToken);
        var json = JsonSerializer.Serialize(new
        {
            date = DateTimeOffset.UtcNow,
            machine,
            mode = kubernetes ? "kubernetes" : "compose",
            results = rows.Select(r => new { measure = r.Measure, value = r.Value, unit = r.Unit }),
        }, new JsonSerializerOptions { WriteIndented = true });
        await File.WriteAllTextAsync(Path.Combine(directory, "results.json"), json, cancellationToken);
        Console.WriteLine(markdown.ToString());
        Console.WriteLine($"bench results written to {Path.Combine(directory, "results.md")} and results.json");
    }
}
