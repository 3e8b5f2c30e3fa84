using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// Builds (or reuses) the kube-dind image from the build context embedded in this assembly (<c>image/</c>):
/// dockerd + registry + docker-compose, and k3s when a binary is supplied or downloaded. The image is tagged by
/// its inputs (<see cref="TagFor"/>: KubeDind version, compose or k3s, a hash of context, base image and k3s), so
/// builds with different inputs on one engine never retag each other's image; an existing image is reused when
/// its <see cref="ContextHashLabel"/> matches. A replaced image is removed only when no tag names it any more.
/// </summary>
public static class ClusterImage
{
    public const string Repository = "kubedind/kube-dind";
    public const string ContextHashLabel = "io.kubedind.context-hash";
    public const string NoKubernetes = "none";

    /// <summary>Where the image keeps the k3s version its build read from <c>k3s --version</c>.</summary>
    internal const string VersionFile = "/usr/local/lib/kubedind/k3s-dist/version";

    /// <summary>kubedind/kube-dind:&lt;KubeDind version&gt;: only an image a user tagged so; builds are tagged by <see cref="TagFor"/>.</summary>
    public static string DefaultTag => $"{Repository}:{Version}";

    /// <summary>
    /// The tag a build with these inputs gets: <c>kubedind/kube-dind:&lt;version&gt;-&lt;compose|k3s|k3s-&lt;downloaded release&gt;&gt;-&lt;12 hex of the input hash&gt;</c>.
    /// </summary>
    public static string TagFor(string inputHash, string k3sSource, string? k3sRelease = null)
    {
        ArgumentNullException.ThrowIfNull(inputHash);
        var mode = k3sSource switch
        {
            "context" when k3sRelease is not null => "k3s-" + k3sRelease.Replace('+', '-'),
            "context" => "k3s",
            _ => "compose",
        };
        return $"{Repository}:{Version}-{mode}-{inputHash[..12]}";
    }

    internal static string Version
    {
        get
        {
            var informational = typeof(ClusterImage).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
            var version = informational ?? typeof(ClusterImage).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";
            return version.Split('+')[0];
        }
    }

    /// <summary>A k3s binary to build the image with when Kubernetes is asked for and the image has none (CI sets it).</summary>
    public const string K3sBinaryVariable = "KUBEDIND_K3S_BINARY";

    /// <summary>The k3s binary named by <see cref="K3sBinaryVariable"/>, as a full path; null when it is unset.</summary>
    public static string? K3sBinaryFromEnvironment() =>
        Environment.GetEnvironmentVariable(K3sBinaryVariable) is { Length: > 0 } path ? Path.GetFullPath(path) : null;

    /// <summary>
    /// The image a cluster called <paramref name="clusterName"/> runs: <see cref="ClusterSettings.Image"/> when it is
    /// on the engine or can be pulled; otherwise KubeDind's own image for the inputs <see cref="ClusterSettings.ImageBuild"/>
    /// names (with the k3s of <see cref="K3sBinaryVariable"/> when Kubernetes is wanted and it names none), reused when
    /// those inputs built it before. Refuses an image without k3s when Kubernetes is wanted.
    /// </summary>
    public static async Task<string> ResolveAsync(KubeDindSession session, string clusterName, ClusterSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(settings);
        var log = session.Log;
        var images = new ImageStore(session.Docker, log);
        string tag;
        ImageInspectResponse? inspect;
        if (settings.Image is { } explicitImage && explicitImage != DefaultTag)
        {
            tag = explicitImage;
            inspect = await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false);
            if (inspect is null && !await images.TryPullAsync(tag, cancellationToken).ConfigureAwait(false))
            {
                throw new KubeDindException($"cluster {clusterName}: image '{tag}' is not on the engine and cannot be pulled; build or load it, or leave Image unset to use KubeDind's own image.");
            }
        }
        else
        {
            // Tagged by its inputs (TagFor): ensuring it reuses the image these inputs built, or builds it.
            var build = settings.ImageBuild;
            if (settings.K3sVersion is { } k3sVersion)
            {
                if (build?.K3sBinary is { } given)
                {
                    throw new KubeDindException($"cluster {clusterName}: K3sVersion {k3sVersion} asks for a k3s download, but ImageBuild.K3sBinary gives {given}; set only one of them.");
                }

                K3sDownload.CheckVersion(k3sVersion);
                if (K3sBinaryFromEnvironment() is { } ignored)
                {
                    log.Info($"cluster {clusterName}: K3sVersion {k3sVersion} is set, so the k3s binary {ignored} ({K3sBinaryVariable}) is not used");
                }

                build = (build ?? new ClusterImageSettings()) with { K3sDownload = true, K3sVersion = k3sVersion };
            }
            else if (build is null && settings.Kubernetes && K3sBinaryFromEnvironment() is { } k3sBinary)
            {
                log.Info($"cluster {clusterName}: the image gets the k3s binary {k3sBinary} ({K3sBinaryVariable})");
                build = new ClusterImageSettings { K3sBinary = k3sBinary };
            }

            if (settings.Kubernetes && build is null or { K3sBinary: null, K3sDownload: false })
            {
                throw new KubeDindException($"cluster {clusterName}: Kubernetes needs k3s in the image; set ClusterSettings.K3sVersion (downloads that release) or ImageBuild.K3sDownload (the pinned {K3sDownload.PinnedVersion}), or ImageBuild.K3sBinary / {K3sBinaryVariable} to a k3s binary — or Kubernetes = false for compose mode.");
            }

            try
            {
                tag = (await EnsureAsync(session, build ?? new ClusterImageSettings(), cancellationToken).ConfigureAwait(false)).Tag;
            }
            catch (KubeDindException ex)
            {
                throw new KubeDindException($"cluster {clusterName}: the kube-dind image cannot be built: {ex.Message}", ex.Details, ex);
            }

            inspect = null;
        }

        inspect ??= await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false);
        var k3s = K3sVersionOf(inspect);
        if (settings.Kubernetes && k3s == NoKubernetes)
        {
            throw new KubeDindException($"cluster {clusterName}: image {tag} has no k3s (compose mode only); set ClusterSettings.ImageBuild.K3sBinary or {K3sBinaryVariable} to a k3s binary, or Kubernetes = false.");
        }

        log.Debug($"cluster {clusterName}: image {tag} (k3s {k3s ?? "unknown"})");
        return tag;
    }

    public static async Task<ClusterImageInfo> EnsureAsync(KubeDindSession session, ClusterImageSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(settings);
        var log = session.Log;
        var images = new ImageStore(session.Docker, log);

        var (source, k3sFile, release) = await CheckInputsAsync(session, settings, cancellationToken).ConfigureAwait(false);
        var baseImage = await new BaseImage(session.Docker, log).EnsureAsync(cancellationToken).ConfigureAwait(false);
        var baseId = (await images.InspectAsync(baseImage, cancellationToken).ConfigureAwait(false))?.ID ?? baseImage;

        var context = BuildContext.FromEmbedded("image/", "mirror/");
        if (k3sFile is not null)
        {
            context.AddFile("k3s", k3sFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        if (settings.AirgapImagesTarball is { } airgap)
        {
            context.AddFile("k3s-airgap-images" + AirgapTarball.SuffixOf(airgap), airgap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        // The containerd template is added on top once the k3s version is known; its text is an input all the same.
        var templates = ContainerdConfig.RenderVersion2(new ContainerdValues()) + ContainerdConfig.RenderVersion3(new ContainerdValues());
        var hash = Hash(context.ContentHash(), baseId, source + "\n" + templates);
        var tag = settings.Tag ?? TagFor(hash, source, release);
        var existing = await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false);
        if (!settings.Force && existing?.Config?.Labels is { } labels && labels.TryGetValue(ContextHashLabel, out var existingHash) && existingHash == hash)
        {
            var reused = ToInfo(tag, existing);
            log.Info($"kube-dind image: reusing {tag} ({reused.Describe()}); its context hash matches");
            return reused;
        }

        log.Info($"kube-dind image: building {tag} ({source switch { "context" when release is not null => $"k3s {release} from {k3sFile}", "context" => "k3s from " + k3sFile, _ => "no k3s: compose mode" }}) on {baseImage}");
        var watch = Stopwatch.StartNew();
        var buildLabels = new Dictionary<string, string>
        {
            [KubeDindLabels.Owner] = KubeDindLabels.OwnerValue,
            [ContextHashLabel] = hash,
        };
        try
        {
            await images.BuildAsync(context, tag, new Dictionary<string, string> { ["BASE_IMAGE"] = baseImage, ["K3S_SOURCE"] = source }, buildLabels, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeDindException ex) when (OwnErrorLine(ex.Details) is { } line)
        {
            // fetch-k3s.sh states what is wrong with the k3s input in one line: that is the message.
            throw new KubeDindException($"kube-dind image: {line}", ex.Details, ex);
        }

        var version = await ReadK3sVersionAsync(session, tag, cancellationToken).ConfigureAwait(false);
        if (version != NoKubernetes)
        {
            // The version is only known once the build has run k3s --version: label it on top, with the containerd
            // configuration template in the form that version's containerd reads.
            var id = (await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false))!.ID;
            var (templateName, template) = ContainerdConfig.RenderFor(version);
            var labelContext = new BuildContext()
                .AddText("containerd/" + templateName, template)
                .AddText("Dockerfile", $"FROM {id}\nCOPY containerd/ {ContainerdConfig.ImageDirectory}/\nLABEL {KubeDindLabels.K3sVersion}=\"{version}\"\n");
            await images.BuildAsync(labelContext, tag, new Dictionary<string, string>(), buildLabels, cancellationToken).ConfigureAwait(false);
        }

        var built = (await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false))!;
        var info = ToInfo(tag, built);
        log.Info($"kube-dind image: {tag} built in {watch.Elapsed.TotalSeconds:0}s: {info.Describe()}");
        return info;
    }


    /// <summary>
    /// Checks every input before the build (downloading k3s when asked to); returns the K3S_SOURCE build argument, the k3s
    /// file for the context and the downloaded release (null for a given binary).
    /// </summary>
    private static async Task<(string Source, string? K3sFile, string? Release)> CheckInputsAsync(KubeDindSession session, ClusterImageSettings settings, CancellationToken cancellationToken)
    {
        var download = settings.K3sDownload || settings.K3sVersion is not null;
        if (settings.K3sBinary is not null && download)
        {
            throw new KubeDindException($"kube-dind image: give either a k3s binary ({settings.K3sBinary}) or a k3s download ({settings.K3sVersion ?? K3sDownload.PinnedVersion}), not both.");
        }

        if (settings.AirgapImagesTarball is { } airgap)
        {
            if (AirgapTarball.SuffixOf(airgap) is null)
            {
                throw new KubeDindException($"kube-dind image: air-gap images tarball '{airgap}' is not one KubeDind takes; pass {AirgapTarball.Described} from the k3s release.");
            }

            try
            {
                await using var stream = File.OpenRead(airgap);
                var probe = new byte[512];
                if (await stream.ReadAsync(probe, cancellationToken).ConfigureAwait(false) == 0)
                {
                    throw new KubeDindException($"kube-dind image: air-gap images tarball '{airgap}' is empty; pass the images tarball from the k3s release.");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new KubeDindException($"kube-dind image: air-gap images tarball '{airgap}' is unreadable ({ex.Message}); check the path and its permissions.", inner: ex);
            }
        }

        if (settings.K3sBinary is null && !download)
        {
            return ("none", null, null);
        }

        var engineArchitecture = (await session.Docker.System.GetSystemInfoAsync(cancellationToken).ConfigureAwait(false)).Architecture;
        if (download)
        {
            var release = settings.K3sVersion ?? K3sDownload.PinnedVersion;
            try
            {
                var file = await new K3sDownload(session.Log, settings.K3sDownloadUrl).GetAsync(release, engineArchitecture, cancellationToken).ConfigureAwait(false);
                return ("context", file, release);
            }
            catch (KubeDindException ex)
            {
                throw new KubeDindException($"kube-dind image: {ex.Message}", ex.Details, ex);
            }
        }

        var k3s = settings.K3sBinary!;
        if (!File.Exists(k3s))
        {
            throw new KubeDindException($"kube-dind image: k3s binary '{k3s}' does not exist; pass the path of a k3s v1.21+ binary, or none for compose mode.");
        }

        var machine = ReadElfMachine(k3s) ?? throw new KubeDindException(
            $"kube-dind image: '{k3s}' is not an executable k3s (not a Linux ELF binary); pass a k3s v1.21+ binary.");
        var expected = engineArchitecture switch { "x86_64" => "x86_64", "aarch64" => "aarch64", _ => null };
        if (expected is not null && machine != expected)
        {
            throw new KubeDindException($"kube-dind image: k3s binary '{k3s}' is built for {machine} but the Docker engine runs {engineArchitecture}; pass a k3s built for {engineArchitecture}.");
        }

        return ("context", k3s, null);
    }

    /// <summary>The ELF machine of <paramref name="path"/> (x86_64, aarch64, or the number), or null when it is no ELF file.</summary>
    internal static string? ReadElfMachine(string path)
    {
        var header = new byte[20];
        using (var stream = File.OpenRead(path))
        {
            if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
            {
                return null;
            }
        }

        if (header[0] != 0x7F || header[1] != (byte)'E' || header[2] != (byte)'L' || header[3] != (byte)'F')
        {
            return null;
        }

        var machine = header[5] == 2 ? (header[18] << 8) | header[19] : header[18] | (header[19] << 8);
        return machine switch
        {
            0x3E => "x86_64",
            0xB7 => "aarch64",
            0x28 => "arm",
            _ => machine.ToString(CultureInfo.InvariantCulture),
        };
    }

    private static string Hash(string contextHash, string baseId, string source)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes($"{contextHash}\n{baseId}\n{source}"));
        return Convert.ToHexString(bytes).ToLowerInvariant();
    }

    // The build stream colours stderr (ESC[91m ... ESC[0m): strip that before looking for the script's line.
    private static string? OwnErrorLine(string? details) =>
        details?.Split('\n').Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\u001b\\[[0-9;]*m", string.Empty).Trim()).LastOrDefault(l => l.StartsWith("kubedind: ", StringComparison.Ordinal) && !l.StartsWith("kubedind: k3s v", StringComparison.Ordinal))?["kubedind: ".Length..];

    private static string? K3sVersionOf(ImageInspectResponse? image) =>
        image?.Config?.Labels is { } labels && labels.TryGetValue(KubeDindLabels.K3sVersion, out var version) ? version : null;

    private static ClusterImageInfo ToInfo(string tag, ImageInspectResponse image)
    {
        var version = image.Config?.Labels is { } labels && labels.TryGetValue(KubeDindLabels.K3sVersion, out var v) && v != NoKubernetes ? v : null;
        return new ClusterImageInfo(tag, version, image.Size);
    }

    /// <summary>Reads the version file the build wrote, from a created (never started) container.</summary>
    private static async Task<string> ReadK3sVersionAsync(KubeDindSession session, string image, CancellationToken cancellationToken)
    {
        var created = await session.Docker.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Image = image,
                Name = $"kubedind-image-probe-{Guid.NewGuid():N}"[..32],
                Labels = KubeDindLabels.ForResource("image-probe", session.RunId),
                Entrypoint = ["/bin/true"],
            },
            cancellationToken).ConfigureAwait(false);
        try
        {
            if (await ContainerFiles.ReadTextAsync(session.Docker, created.ID, VersionFile, cancellationToken).ConfigureAwait(false) is { } text)
            {
                var version = text.Trim();
                return version.Length == 0 ? NoKubernetes : version;
            }

            throw new KubeDindException($"kube-dind image: {image} has no {VersionFile}; the build is incomplete: build again with Force.");
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"kube-dind image: cannot read {VersionFile} from {image}: {DockerEngine.FirstLine(ex)}", inner: ex);
        }
        finally
        {
            await session.Docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
