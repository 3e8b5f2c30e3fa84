using System.Globalization;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// The engine's layer store: one volume, kept between clusters as the mirror caches are, holding each image layer a
/// cluster on this engine received, as the compressed blob the engine sent. Before a push the layers it holds are
/// linked into the new cluster's registry, so the engine finds them there and neither compresses nor sends them again
/// (an unchanged ~600 MB image: 18 s → about a second); after the push the new ones are stored. Several clusters
/// share it at once (the image's <c>kubedind-layers</c> locks and writes whole files); it is pruned to
/// <see cref="LayerStoreSettings.LimitBytes"/>, least recently used first, leaving what was used in the last hour (a
/// running cluster's registry serves it); <c>Sweep</c> with AllState removes it.
/// </summary>
public sealed record LayerStoreSettings
{
    /// <summary>The volume's name; one store serves every cluster on the engine.</summary>
    public const string DefaultVolume = "kubedind-layer-store";

    public const string Role = "layer-store";

    /// <summary>On by default; off, every push sends every layer the new cluster's registry lacks.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// The most the store keeps; above it the least recently used layers go (10 GB by default), except those used in the
    /// last hour, which running clusters' registries may still serve.
    /// </summary>
    public long LimitBytes { get; init; } = 10_000_000_000;

    public string Volume { get; init; } = DefaultVolume;
}

/// <summary>
/// What a push of an image of <see cref="ImageLayers"/> layers found in the layer store (<see cref="Seeded"/>) and what it
/// added (<see cref="Kept"/>; null when the store had every layer, so there was nothing to add, or storing failed).
/// </summary>
internal sealed record LayerStorePush(int ImageLayers, LayerStoreSeed Seeded, LayerStoreKeep? Kept)
{
    /// <summary>The store had every layer: nothing was sent, so nothing needs storing.</summary>
    public static bool HadAll(int imageLayers, LayerStoreSeed seeded) => imageLayers > 0 && seeded.Layers.Count == imageLayers;

    /// <summary>One clause for the push's log line: how much was sent, how much was already there, and how much is being linked unpacked.</summary>
    public string Summary() => Seeded.Linking > 0
        ? $"{Transfer()}; linking {Seeded.Linking} of {ImageLayers} layers unpacked into the cluster's containerd in the background"
        : Transfer();

    private string Transfer()
    {
        var there = Seeded.Layers.Count;
        var thereBytes = Seeded.Layers.Sum(l => l.Bytes);
        if (Kept is null)
        {
            return HadAll(ImageLayers, Seeded)
                ? $"sent 0 of {there} layers, all {there} ({Megabytes(thereBytes)}) were already in the layer store"
                : $"{there} of {ImageLayers} layers ({Megabytes(thereBytes)}) were already in the layer store";
        }

        var sent = Math.Max(0, Kept.Layers - there);
        var sentBytes = Math.Max(0, Kept.Bytes - thereBytes);
        var pruned = Kept.PrunedBytes > 0 ? $", {Megabytes(Kept.PrunedBytes)} of least recently used layers pruned" : string.Empty;
        return $"sent {sent} of {Kept.Layers} layers ({Megabytes(sentBytes)}), {there} ({Megabytes(thereBytes)}) were already in the layer store "
            + $"(now {Megabytes(Kept.StoreBytes)}{pruned})";
    }

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1_000_000.0:0.#} MB");
}

/// <summary>
/// What a seed found: the layers now in the cluster's registry, and how many of the image's layers (from the first on)
/// the store holds unpacked, which a background link is committing into the cluster's containerd (0: none started), so
/// its pull unpacks only the rest.
/// </summary>
internal sealed record LayerStoreSeed(IReadOnlyList<StoredLayer> Layers, int Linking);

internal sealed record StoredLayer(string DiffId, string Digest, long Bytes);

internal sealed record LayerStoreKeepWait(double WaitedSeconds, bool Finished);

/// <summary>
/// What a wait for the cluster's background links found: whether they finished within the wait, and, over the images
/// whose links finished, how many of their <see cref="Layers"/> the cluster's containerd has unpacked (<see cref="Linked"/>).
/// </summary>
internal sealed record LayerStoreLinkWait(double WaitedSeconds, bool Finished, int Linked, int Layers)
{
    /// <summary>The wait's log line after "cluster NAME: STEP ".</summary>
    public string Summary() => Finished
        ? $"waited {WaitedSeconds:0.0}s for the layer store to link the pushed images' unpacked layers: {Linked} of {Layers} layers already unpacked for the cluster's containerd"
        : $"waited {WaitedSeconds:0.0}s for the layer store to link the pushed images' unpacked layers, and goes on without the rest ({Linked} of {Layers} layers of the finished links unpacked; its pulls unpack what is not linked yet)";
}

internal sealed record LayerStoreKeep(int Layers, long Bytes, long StoredBytes, long StoreBytes, long PrunedBytes);

/// <summary>The server container whose <c>kubedind-layers</c> a push or wait runs: also before its cluster is ready (a start's own pushes).</summary>
internal sealed record LayerStoreHost(KubeDindSession Session, string ClusterName, string ContainerId, LayerStoreSettings Settings);

/// <summary>The layer store as the core uses it: its volume and mount, and the image's <c>kubedind-layers</c> around a push.</summary>
internal static class LayerStore
{
    private const string Command = "kubedind-layers";

    /// <summary>The exit code of <c>kubedind-layers</c> when no store is mounted (a cluster started without one, or connected to).</summary>
    private const int NotMounted = 3;

    /// <summary>The store's mount in the cluster's server container (where its registry is).</summary>
    public static Mount MountFor(LayerStoreSettings settings) =>
        new() { Type = "volume", Source = settings.Volume, Target = ImageContract.Current.LayerStoreDirectory };

    /// <summary>Creates the store's volume with the labels of a shared resource unless it exists (a create of an existing name returns it unchanged).</summary>
    public static async Task EnsureVolumeAsync(KubeDindSession session, LayerStoreSettings settings, CancellationToken cancellationToken)
    {
        await session.Docker.Volumes.CreateAsync(
            new VolumesCreateParameters { Name = settings.Volume, Labels = KubeDindLabels.ForShared(LayerStoreSettings.Role) },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the store's volume; one still mounted by a running cluster stays. Returns whether it went.</summary>
    public static async Task<bool> RemoveAsync(KubeDindSession session, string volume, CancellationToken cancellationToken)
    {
        try
        {
            await session.Docker.Volumes.RemoveAsync(volume, force: false, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return false;
        }
        catch (DockerApiException ex)
        {
            session.Log.Info($"sweep: the layer store {volume} stays: {DockerEngine.FirstLine(ex)}");
            return false;
        }
    }

    /// <summary>
    /// Links the store's blobs of <paramref name="diffIds"/> into the cluster registry's <paramref name="repository"/>, and
    /// starts linking the layers it holds unpacked into the cluster's containerd in the background (the seed's
    /// <see cref="LayerStoreSeed.Linking"/>: the cluster's next Deploy or RunJob waits for that first).
    /// </summary>
    public static async Task<LayerStoreSeed?> SeedAsync(LayerStoreHost host, string repository, IReadOnlyList<string> diffIds, CancellationToken cancellationToken)
    {
        var output = await RunAsync(host, ["seed", repository, .. diffIds], cancellationToken).ConfigureAwait(false);
        return output is null ? null : Parse<LayerStoreSeed>(output, "seed");
    }

    /// <summary>Stores the layers of <paramref name="repository"/>:<paramref name="tag"/> the store lacks, then prunes it to its limit.</summary>
    public static async Task<LayerStoreKeep?> KeepAsync(LayerStoreHost host, string repository, string tag, IReadOnlyList<string> diffIds, CancellationToken cancellationToken)
    {
        var limit = host.Settings.LimitBytes.ToString(CultureInfo.InvariantCulture);
        var output = await RunAsync(host, ["keep", repository, tag, limit, .. diffIds], cancellationToken).ConfigureAwait(false);
        return output is null ? null : Parse<LayerStoreKeep>(output, "keep");
    }

    /// <summary>
    /// Starts storing, in the background, the layers the cluster's containerd unpacked that the store lacks (after a
    /// Deploy or RunJob pulled them), so the next cluster's pulls find them unpacked. In the background because the first
    /// copy of a large image takes seconds the caller need not wait for; a teardown cutting it short loses nothing
    /// (layers are renamed into place when whole, and the next cluster stores them again).
    /// </summary>
    public static async Task KeepUnpackedInBackgroundAsync(KubeDindCluster cluster, CancellationToken cancellationToken)
    {
        if (!cluster.Settings.LayerStore.Enabled || !cluster.Settings.Kubernetes)
        {
            return;
        }

        var limit = cluster.Settings.LayerStore.LimitBytes.ToString(CultureInfo.InvariantCulture);
        try
        {
            // kubedind-layers starts the copy in the background, its output to its log, and returns once a teardown's
            // wait-keep can find it (the engine's detached exec start is not usable through Docker.DotNet: it expects an
            // attached stream).
            cluster.KeepsUnpackedLayers |= await RunAsync(cluster.LayerStoreHost, ["keep-unpacked", limit], cancellationToken).ConfigureAwait(false) is not null;
        }
        catch (DockerApiException ex)
        {
            // Only an optimisation: the next cluster unpacks these layers itself.
            cluster.Session.Log.Warn($"cluster {cluster.Name}: could not start storing its unpacked layers in the layer store ({DockerEngine.FirstLine(ex)}); the next cluster unpacks them again");
        }
    }

    /// <summary>
    /// Before a Deploy or RunJob (<paramref name="step"/>) makes pods pull: lets the links a push started in the
    /// background (<see cref="KubeDindCluster.MarkUnpackedLayerLinks"/>) finish, at most <see cref="LinkWait"/>, so the
    /// pulls find the image's layers unpacked instead of unpacking them again. Takes about as long as the links have
    /// left (2 ctr calls a layer); past the limit the step goes on and its pulls unpack what is not linked yet.
    /// </summary>
    public static async Task FinishLinkingUnpackedAsync(KubeDindCluster cluster, string step, CancellationToken cancellationToken)
    {
        if (!cluster.TakeUnpackedLayerLinks())
        {
            return;
        }

        try
        {
            if (await WaitAsync<LayerStoreLinkWait>(cluster, "wait-link", LinkWait, cancellationToken).ConfigureAwait(false) is not { } wait)
            {
                return;
            }

            var line = $"cluster {cluster.Name}: {step} {wait.Summary()}";
            if (wait.Finished)
            {
                cluster.Session.Log.Info(line);
            }
            else
            {
                cluster.Session.Log.Warn(line);
            }
        }
        catch (Exception ex) when (ex is DockerApiException or JsonException or KubeDindException)
        {
            // Only an optimisation: the step's pulls unpack what is not linked.
            cluster.Session.Log.Warn($"cluster {cluster.Name}: {step} could not wait for the layer store to link the pushed images' unpacked layers ({ex.Message}); its pulls unpack what is not linked yet");
        }
    }

    /// <summary>The longest a Deploy or RunJob waits for a push's background links of unpacked layers.</summary>
    internal static readonly TimeSpan LinkWait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Before a teardown: lets the cluster's background copy of its unpacked layers finish (at most
    /// <see cref="KeepWait"/>), so a run whose tests are shorter than the first copy of its images still leaves them
    /// for the next cluster. Once stored, a keep finds nothing new and this returns at once.
    /// </summary>
    public static async Task FinishKeepingUnpackedAsync(KubeDindCluster cluster, CancellationToken cancellationToken)
    {
        if (!cluster.KeepsUnpackedLayers)
        {
            return;
        }

        try
        {
            if (await WaitAsync<LayerStoreKeepWait>(cluster, "wait-keep", KeepWait, cancellationToken).ConfigureAwait(false) is not { } wait)
            {
                return;
            }

            if (!wait.Finished)
            {
                cluster.Session.Log.Warn($"cluster {cluster.Name}: storing its unpacked layers in the layer store took over {KeepWait.TotalSeconds:0}s; tearing down without them (the next cluster unpacks them again)");
            }
            else if (wait.WaitedSeconds >= 0.1)
            {
                cluster.Session.Log.Info($"cluster {cluster.Name}: waited {wait.WaitedSeconds:0.0}s for the layer store to keep the layers it unpacked (the next cluster finds them unpacked)");
            }
        }
        catch (Exception ex) when (ex is DockerApiException or JsonException or KubeDindException)
        {
            // The container may be gone already; the teardown goes on.
            cluster.Session.Log.Debug($"cluster {cluster.Name}: no wait for the layer store ({ex.Message})");
        }
    }

    /// <summary>The longest a teardown waits for the background copy of a cluster's unpacked layers.</summary>
    internal static readonly TimeSpan KeepWait = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Runs <c>kubedind-layers <paramref name="subcommand"/> SECONDS</c> (wait-link, wait-keep), which waits at most
    /// <paramref name="limit"/> for the container's background runs of that kind, and reads what it found; null without a store.
    /// </summary>
    private static async Task<T?> WaitAsync<T>(KubeDindCluster cluster, string subcommand, TimeSpan limit, CancellationToken cancellationToken)
        where T : class
    {
        var seconds = ((int)limit.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        var output = await RunAsync(cluster.LayerStoreHost, [subcommand, seconds], cancellationToken).ConfigureAwait(false);
        return output is null ? null : Parse<T>(output, subcommand);
    }

    /// <summary>
    /// Runs <c>kubedind-layers</c> in the server container (around a push, after a deploy or job, and for the waits before a deploy, job or
    /// teardown); null when no store is mounted there or it failed.
    /// </summary>
    private static async Task<string?> RunAsync(LayerStoreHost host, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var log = host.Session.Log;
        var result = await ContainerExec.RunAsync(host.Session.Docker, host.ContainerId, [Command, .. arguments], cancellationToken: cancellationToken).ConfigureAwait(false);
        if (result.ExitCode == NotMounted)
        {
            log.Debug($"cluster {host.ClusterName} has no layer store ({result.FirstErrorLine})");
            return null;
        }

        // The store only saves time: when it fails the push goes on and sends what the registry lacks, and a wait
        // goes on without the layers it waited for.
        if (!result.Succeeded)
        {
            log.Warn($"cluster {host.ClusterName}: the layer store failed ({Command} {arguments[0]}: {result.FirstErrorLine}); going on without it (it only saves time)");
            return null;
        }

        return result.StandardOutput;
    }

    /// <summary>Reads what <c>kubedind-layers <paramref name="subcommand"/></c> printed.</summary>
    internal static T Parse<T>(string output, string subcommand) =>
        JsonSerializer.Deserialize<T>(output, ImageContract.JsonOptions) ?? throw new KubeDindException($"{Command} {subcommand} printed nothing; the cluster image is broken, rebuild it.");
}
