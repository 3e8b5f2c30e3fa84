using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Mirror;

/// <summary>
/// The registry image the mirror runs, and the facts every registry image here shares: the API on
/// <see cref="Port"/>, storage at <see cref="StoragePath"/>, pull-through mode from <see cref="ProxyRemoteUrlVariable"/>.
/// Without an explicit image: <c>registry:2</c> when on the engine, else the one built here from Debian's
/// docker-registry package (image/mirror/) when already built, else <c>registry:2</c> pulled, else that build.
/// </summary>
public sealed class MirrorImage
{
    public const string UpstreamTag = "registry:2";
    public const string LocalRepository = "kubedind/registry";
    public const int Port = 5000;

    /// <summary>Where registry:2 and our build both keep their data, so one cache volume fits either.</summary>
    public const string StoragePath = "/var/lib/registry";

    public const string ProxyRemoteUrlVariable = "REGISTRY_PROXY_REMOTEURL";
    public const string ProxyUsernameVariable = "REGISTRY_PROXY_USERNAME";
    public const string ProxyPasswordVariable = "REGISTRY_PROXY_PASSWORD";

    /// <summary>
    /// Set to <see cref="LogFormatter"/> on every mirror: registry:2's own config logs logrus text, and the usage
    /// counts (<see cref="MirrorUsage"/>) read the log as JSON lines. The environment overrides either image's config.
    /// </summary>
    public const string LogFormatterVariable = "REGISTRY_LOG_FORMATTER";

    public const string LogFormatter = "json";
    public const string ContextHashLabel = "io.kubedind.context-hash";
    public const string EmbeddedContext = "image/mirror/";

    private readonly KubeDindSession _session;
    private readonly ImageStore _images;

    public MirrorImage(KubeDindSession session)
    {
        _session = session;
        _images = new ImageStore(session.Docker, session.Log);
    }

    /// <summary>The tag of the image built from image/mirror/: the content hash in it makes any change rebuild.</summary>
    public static string LocalTag => LazyLocalTag.Value;

    private static readonly Lazy<string> LazyLocalTag = new(() => $"{LocalRepository}:2.8-{BuildContext.FromEmbedded(EmbeddedContext).ContentHash()[..12]}");

    /// <summary>Returns the image to run: <paramref name="requested"/> when given (present or pullable), else the default above.</summary>
    public async Task<string> EnsureAsync(string? requested, CancellationToken cancellationToken)
    {
        if (requested is not null)
        {
            if (await _images.ExistsAsync(requested, cancellationToken).ConfigureAwait(false)
                || await _images.TryPullAsync(requested, cancellationToken).ConfigureAwait(false))
            {
                return requested;
            }

            throw new KubeDindException($"mirror image '{requested}' is not on the engine and cannot be pulled; load it, or leave MirrorSettings.Image unset to use {UpstreamTag} or the built {LocalRepository}.");
        }

        if (await _images.ExistsAsync(UpstreamTag, cancellationToken).ConfigureAwait(false))
        {
            _session.Log.Debug($"mirror image: using {UpstreamTag} already on the engine");
            return UpstreamTag;
        }

        // Checked before pulling so offline machines do not try the network on every run: this image
        // only exists where registry:2 could not be had before.
        if (await _images.ExistsAsync(LocalTag, cancellationToken).ConfigureAwait(false))
        {
            _session.Log.Debug($"mirror image: reusing {LocalTag}");
            return LocalTag;
        }

        if (await _images.TryPullAsync(UpstreamTag, cancellationToken).ConfigureAwait(false))
        {
            return UpstreamTag;
        }

        _session.Log.Warn($"mirror image: {UpstreamTag} cannot be had; building {LocalTag} from Debian's docker-registry package instead");
        await BuildAsync(cancellationToken).ConfigureAwait(false);
        return LocalTag;
    }

    /// <summary>Builds <see cref="LocalTag"/> from the embedded image/mirror/ context on the Debian base image.</summary>
    public async Task BuildAsync(CancellationToken cancellationToken)
    {
        var context = BuildContext.FromEmbedded(EmbeddedContext);
        var baseImage = await new BaseImage(_session.Docker, _session.Log).EnsureAsync(cancellationToken).ConfigureAwait(false);
        var labels = new Dictionary<string, string>
        {
            [KubeDindLabels.Owner] = KubeDindLabels.OwnerValue,
            [KubeDindLabels.Role] = "mirror-image",
            [ContextHashLabel] = context.ContentHash(),
        };
        await _images.BuildAsync(context, LocalTag, new Dictionary<string, string> { ["BASE_IMAGE"] = baseImage }, labels, cancellationToken).ConfigureAwait(false);
    }
}
