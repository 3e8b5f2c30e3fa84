using System.Diagnostics;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Logging;

namespace KubeDind.Docker;

/// <summary>
/// The Debian base every KubeDind Dockerfile starts from (<c>ARG BASE_IMAGE</c>): <c>debian:bookworm-slim</c>
/// when present or pullable, otherwise an equivalent built from Debian packages with debootstrap and
/// <c>docker import</c>, tagged <see cref="LocalTag"/> and reused by every later build.
/// </summary>
public sealed class BaseImage
{
    public const string UpstreamTag = "debian:bookworm-slim";
    public const string LocalTag = "kubedind/base:bookworm";
    public const string DefaultDebianMirror = "http://deb.debian.org/debian";

    private readonly IDockerClient _docker;
    private readonly IKubeDindLog _log;
    private readonly ImageStore _images;

    public BaseImage(IDockerClient docker, IKubeDindLog log)
    {
        _docker = docker;
        _log = log;
        _images = new ImageStore(docker, log);
    }

    /// <summary>Returns the base image's name, building it from Debian packages when no registry can supply one.</summary>
    public async Task<string> EnsureAsync(CancellationToken cancellationToken)
    {
        if (await _images.ExistsAsync(UpstreamTag, cancellationToken).ConfigureAwait(false))
        {
            _log.Info($"base image: using {UpstreamTag} already on the engine");
            return UpstreamTag;
        }

        var local = await _images.InspectAsync(LocalTag, cancellationToken).ConfigureAwait(false);
        if (local is not null)
        {
            var saved = local.Config?.Labels is { } labels && labels.TryGetValue(KubeDindLabels.BuildSeconds, out var seconds) ? $", saving the ~{seconds}s it took to build" : string.Empty;
            _log.Info($"base image: reusing {LocalTag} built {local.Created:u}{saved}");
            return LocalTag;
        }

        if (await _images.TryPullAsync(UpstreamTag, cancellationToken).ConfigureAwait(false))
        {
            return UpstreamTag;
        }

        await BuildFromDebianPackagesAsync(cancellationToken).ConfigureAwait(false);
        return LocalTag;
    }

    private async Task BuildFromDebianPackagesAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new KubeDindException($"base image: neither {UpstreamTag} nor {LocalTag} is on the engine and {UpstreamTag} cannot be pulled; pull or load {UpstreamTag} (building it needs Linux with debootstrap).");
        }

        var debootstrap = FindOnPath("debootstrap") ?? throw new KubeDindException(
            $"base image: {UpstreamTag} cannot be pulled and debootstrap is not installed; install it (apt-get install debootstrap) or load {UpstreamTag} into the engine.");
        var mirror = Environment.GetEnvironmentVariable("KUBEDIND_DEBIAN_MIRROR") is { Length: > 0 } m ? m : DefaultDebianMirror;
        var rootfs = Directory.CreateTempSubdirectory("kubedind-rootfs-").FullName;
        var watch = Stopwatch.StartNew();
        try
        {
            _log.Info($"base image: {UpstreamTag} cannot be pulled; building {LocalTag} from Debian packages (debootstrap --variant=minbase bookworm, {mirror})");
            await RunAsync(debootstrap, ["--variant=minbase", "bookworm", rootfs, mirror], "debootstrap", cancellationToken).ConfigureAwait(false);
            _log.Info($"base image: root file system ready after {watch.Elapsed.TotalSeconds:0}s; importing it");

            var tar = new ProcessStartInfo("tar", ["--numeric-owner", "-C", rootfs, "-c", "."]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var tarProcess = Process.Start(tar) ?? throw new KubeDindException("base image: could not start tar; install tar and run again.");
            var stderr = tarProcess.StandardError.ReadToEndAsync(cancellationToken);
            var progress = new DockerProgress(_log, $"import {LocalTag}");
            var (repository, tag) = ImageReference.SplitTag(LocalTag);
            var seconds = ((int)watch.Elapsed.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            await _docker.Images.CreateImageAsync(
                new ImagesCreateParameters
                {
                    FromSrc = "-",
                    Repo = repository,
                    Tag = tag,
                    Changes = [$"LABEL {KubeDindLabels.Owner}={KubeDindLabels.OwnerValue} {KubeDindLabels.BuildSeconds}={seconds}", "CMD [\"bash\"]"],
                },
                tarProcess.StandardOutput.BaseStream,
                null,
                progress,
                cancellationToken).ConfigureAwait(false);
            await tarProcess.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (tarProcess.ExitCode != 0 || progress.Error is not null)
            {
                throw new KubeDindException($"base image: importing the debootstrap root file system failed: {progress.Error ?? (await stderr.ConfigureAwait(false)).Trim()}");
            }

            _log.Info($"base image: built {LocalTag} in {watch.Elapsed.TotalSeconds:0}s; later builds reuse it");
        }
        finally
        {
            // Plain Directory.Delete stumbles on the device nodes debootstrap creates.
            await RunAsync("rm", ["-rf", rootfs], "rm", CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(string file, string[] arguments, string what, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new KubeDindException($"base image: could not start {what}.");
        var tail = new Queue<string>();
        void Keep(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (tail)
            {
                tail.Enqueue(line);
                if (tail.Count > 15)
                {
                    tail.Dequeue();
                }
            }

            _log.Debug($"{what}: {line}");
        }

        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        if (process.ExitCode != 0)
        {
            throw new KubeDindException($"base image: {what} exited with code {process.ExitCode}; see the lines below (is the Debian mirror reachable? set KUBEDIND_DEBIAN_MIRROR to another).", string.Join('\n', tail));
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin"])
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
