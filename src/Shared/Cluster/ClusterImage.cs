using System.Reflection;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// The image a cluster runs (<see cref="ResolveAsync"/>): a given one, or KubeDind's own, which
/// <see cref="EnsureAsync"/> (in ClusterImage.Build.cs) builds (or reuses) from the build context embedded in this assembly (<c>image/</c>):
/// dockerd + registry + docker-compose, and k3s when a binary is supplied or downloaded. The image is tagged by
/// its inputs (<see cref="TagFor"/>: KubeDind version, compose or k3s, a hash of context, base image and k3s), so
/// builds with different inputs on one engine never retag each other's image; an existing image is reused when
/// its <see cref="ContextHashLabel"/> matches. A replaced image is removed only when no tag names it any more.
/// </summary>
public static partial class ClusterImage
{
    public const string Repository = "kubedind/kube-dind";
    public const string ContextHashLabel = "io.kubedind.context-hash";
    public const string NoKubernetes = "none";

    /// <summary>Where the image keeps the k3s version its build read from <c>k3s --version</c>.</summary>
    internal static string VersionFile => ImageContract.Current.K3sVersionFile;

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

    private static string? K3sVersionOf(ImageInspectResponse? image) =>
        image?.Config?.Labels is { } labels && labels.TryGetValue(KubeDindLabels.K3sVersion, out var version) ? version : null;
}
