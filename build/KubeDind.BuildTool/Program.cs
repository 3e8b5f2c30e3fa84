using KubeDind;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Logging;

// Usage: KubeDind.BuildTool <command> [options]
//   base-image                     make sure the Debian base image exists (build it offline if needed)
//   image [--k3s-binary PATH] [--k3s-download] [--airgap-images PATH] [--force]
//                                  build (or reuse) the kube-dind image; without a k3s option it is compose mode
//                                  (KUBEDIND_K3S_BINARY is deliberately not read: the options say what goes in).
//   bench [--runs N] [--out DIR] [--example-app DIR]
//                                  ratios against peers measured side by side (medians of N runs); results and
//                                  chart in DIR (artifacts/bench); --example-app: the example app's publish folder
//   sweep [--all-state]            remove what dead runs left; --all-state also every saved cluster state
//   engine-snapshot FILE           record the engine's containers, volumes, images and networks in FILE
//   engine-leftovers FILE          list what is new since FILE and not kept by design; exit 1 when anything is
//   remove-images TAG...           remove these images (the examples' builds) where they exist
var log = new ConsoleKubeDindLog(Environment.GetEnvironmentVariable("KUBEDIND_VERBOSE") == "1" ? KubeDindLogLevel.Debug : KubeDindLogLevel.Information);
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    var command = args.Length > 0 ? args[0] : string.Empty;
    using var docker = await DockerEngine.ConnectAsync(cancellationToken: cancel.Token);
    switch (command)
    {
        case "base-image":
            Console.WriteLine(await new BaseImage(docker, log).EnsureAsync(cancel.Token));
            return 0;
        case "image":
            return await BuildImageAsync(args[1..], log, cancel.Token);
        case "bench":
            return await RunBenchAsync(args[1..], log, cancel.Token);
        case "sweep":
            return await SweepAsync(args[1..], log, cancel.Token);
        case "engine-snapshot" when args.Length == 2:
            return await KubeDind.BuildTool.EngineLeftovers.SnapshotAsync(docker, args[1], cancel.Token);
        case "engine-leftovers" when args.Length == 2:
            return await KubeDind.BuildTool.EngineLeftovers.CheckAsync(docker, args[1], cancel.Token);
        case "remove-images":
            return await KubeDind.BuildTool.EngineLeftovers.RemoveImagesAsync(docker, args[1..], cancel.Token);
        default:
            Console.Error.WriteLine($"error: unknown command '{command}'; use one of: base-image, image, bench, sweep, engine-snapshot FILE, engine-leftovers FILE, remove-images TAG...");
            return 2;
    }
}
catch (KubeDindException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    if (ex.Details is not null)
    {
        Console.Error.WriteLine(ex.Details);
    }

    return 1;
}

static async Task<int> BuildImageAsync(string[] options, ConsoleKubeDindLog log, CancellationToken cancellationToken)
{
    string? k3sBinary = null, airgap = null;
    bool download = false, force = false;
    for (var i = 0; i < options.Length; i++)
    {
        string Value(string name) => i + 1 < options.Length && options[i + 1].Length > 0
            ? options[++i]
            : throw new KubeDindException($"image: {name} needs a value (a file path).");
        var (name, inline) = options[i].Split('=', 2) is [var n, var v] ? (n, v) : (options[i], null);
        switch (name)
        {
            case "--k3s-binary":
                k3sBinary = inline ?? Value(name);
                break;
            case "--airgap-images":
                airgap = inline ?? Value(name);
                break;
            case "--k3s-download":
                download = true;
                break;
            case "--force":
                force = true;
                break;
            default:
                throw new KubeDindException($"image: unknown option '{options[i]}'; use --k3s-binary PATH, --k3s-download, --airgap-images PATH, --force.");
        }
    }

    log.Info(!string.IsNullOrWhiteSpace(k3sBinary) ? $"image: k3s from {Path.GetFullPath(k3sBinary)} (--k3s-binary)"
        : download ? "image: k3s downloaded, the pinned release (--k3s-download)"
        : $"image: no k3s: compose mode (no --k3s-binary or --k3s-download{(ClusterImage.K3sBinaryFromEnvironment() is null ? string.Empty : $"; {ClusterImage.K3sBinaryVariable} is set but not used here")})");
    await using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: cancellationToken);
    var settings = new ClusterImageSettings
    {
        K3sBinary = string.IsNullOrWhiteSpace(k3sBinary) ? null : Path.GetFullPath(k3sBinary),
        K3sDownload = download,
        AirgapImagesTarball = string.IsNullOrWhiteSpace(airgap) ? null : Path.GetFullPath(airgap),
        Force = force,
    };
    var image = await ClusterImage.EnsureAsync(session, settings, cancellationToken);
    Console.WriteLine($"{image.Tag}: {image.Describe()}");
    return 0;
}

static async Task<int> RunBenchAsync(string[] options, IKubeDindLog log, CancellationToken cancellationToken)
{
    var runs = 3;
    var output = Path.Combine("artifacts", "bench");
    string? exampleApp = null;
    var startOnly = false;
    for (var i = 0; i < options.Length; i++)
    {
        switch (options[i])
        {
            case "--runs" when i + 1 < options.Length && int.TryParse(options[i + 1], out var n) && n > 0:
                runs = n;
                i++;
                break;
            case "--out" when i + 1 < options.Length:
                output = options[++i];
                break;
            case "--example-app" when i + 1 < options.Length:
                exampleApp = options[++i];
                break;
            case "--start-only":
                startOnly = true;
                break;
            default:
                Console.Error.WriteLine($"error: bench option '{options[i]}' is not understood; use --runs N (N >= 1), --out DIR, --example-app DIR and --start-only.");
                return 2;
        }
    }

    await using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: cancellationToken);
    return await KubeDind.BuildTool.Bench.RunAsync(session, Path.GetFullPath(output), runs, exampleApp, startOnly, cancellationToken);
}

static async Task<int> SweepAsync(string[] options, IKubeDindLog log, CancellationToken cancellationToken)
{
    var allState = false;
    foreach (var option in options)
    {
        if (option != "--all-state")
        {
            Console.Error.WriteLine($"error: sweep option '{option}' is not understood; use --all-state (also remove every saved cluster state) or nothing.");
            return 2;
        }

        allState = true;
    }

    await using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: cancellationToken);
    var result = await session.SweepAsync(new SweepSettings { AllState = allState }, cancellationToken);
    log.Info($"sweep: removed {result.RemovedContainers.Count} containers and {result.RemovedVolumes.Count} volumes");
    return 0;
}
