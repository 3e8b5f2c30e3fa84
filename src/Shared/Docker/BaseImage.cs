using System.Diagnostics;
using System.Globalization;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.IO;
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
            await ProcessRunner.RunAsync(
                _log,
                debootstrap,
                ["--variant=minbase", "bookworm", rootfs, mirror],
                DebootstrapTimeout,
                "is the Debian mirror reachable? Set KUBEDIND_DEBIAN_MIRROR to another, or load debian:bookworm-slim into the engine.",
                cancellationToken).ConfigureAwait(false);
            _log.Info($"base image: root file system ready after {watch.Elapsed.TotalSeconds:0}s; importing it");

            await using var tar = new FileStream(rootfs + ".tar", FileMode.Create, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
            await TarArchive.WriteTreeAsync(rootfs, tar, cancellationToken).ConfigureAwait(false);
            tar.Position = 0;
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
                tar,
                null,
                progress,
                cancellationToken).ConfigureAwait(false);
            if (progress.Error is not null)
            {
                throw new KubeDindException($"base image: the engine refused to import the debootstrap root file system: {progress.Error}");
            }

            _log.Info($"base image: built {LocalTag} in {watch.Elapsed.TotalSeconds:0}s; later builds reuse it");
        }
        finally
        {
            try
            {
                Directory.Delete(rootfs, recursive: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A debootstrap stopped half-way can leave /proc mounted in the tree: the build's own outcome matters more.
                _log.Warn($"base image: the temporary root file system {rootfs} could not be removed ({ex.Message}); remove it by hand.");
            }
        }
    }

    /// <summary>A minbase bootstrap downloads some 40 MB of packages; on a slow mirror it takes minutes, never this long.</summary>
    private static readonly TimeSpan DebootstrapTimeout = TimeSpan.FromMinutes(30);

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin"])
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);
}
