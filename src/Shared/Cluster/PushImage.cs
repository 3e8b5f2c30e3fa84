using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// Pushes a host image into the cluster's registry through its published port: tags it for that
/// registry, pushes (logging progress), removes the temporary tag, and returns the reference pods use,
/// <c>localhost:5000/name:tag</c>. Tags are always fixed: <c>:latest</c> or no tag becomes a tag derived
/// from the image id, so Kubernetes never runs a stale image.
/// </summary>
public sealed class PushImage
{
    private readonly KubeDindSession _session;

    public PushImage(KubeDindSession session) => _session = session;

    public async Task<string> RunAsync(KubeDindCluster cluster, string hostImage, string? name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentException.ThrowIfNullOrWhiteSpace(hostImage);
        try
        {
            await cluster.EnsureAliveAsync("push", cancellationToken).ConfigureAwait(false);
            // The engine does the push, so the registry as the engine reaches it (a remote engine's own 127.0.0.1).
            var registry = new RegistryTarget(cluster.RegistryEngineEndpoint, cluster.RegistryClusterName);
            var layerStore = cluster.Settings.LayerStore.Enabled ? cluster.LayerStoreHost : null;
            var pushed = await PushToAsync(_session.Docker, _session.Log, $"cluster {cluster.Name}", registry, hostImage, name, cancellationToken, layerStore).ConfigureAwait(false);
            cluster.RecordPush(hostImage, pushed);
            return pushed.Reference;
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException($"push: {hostImage} to cluster {cluster.Name} cancelled; its temporary tag was removed and the cluster keeps working.", ex, cancellationToken);
        }
    }

    /// <summary>
    /// Tags <paramref name="hostImage"/> for <paramref name="registry"/>'s push name, pushes it, removes the temporary tag and
    /// returns the reference under the registry's pull name. <paramref name="target"/> names the destination in messages.
    /// With <paramref name="layerStoreOf"/>, the engine's layer store first puts the layers it holds into that cluster's
    /// registry (so they are not sent) and keeps the ones sent.
    /// </summary>
    internal static async Task<PushedImage> PushToAsync(IDockerClient docker, IKubeDindLog log, string target, RegistryTarget registry, string hostImage, string? name, CancellationToken cancellationToken, LayerStoreHost? layerStoreOf = null)
    {
        var images = new ImageStore(docker, log);
        var image = await images.InspectAsync(hostImage, cancellationToken).ConfigureAwait(false)
            ?? throw new KubeDindException($"push: image '{hostImage}' is not on the Docker engine; build or pull it first (docker images lists what is there).");

        var (repository, tag) = ClusterImageName(hostImage, name, image.ID);
        var hostRepository = $"{registry.PushName}/{repository}";
        var clusterReference = $"{registry.PullName}/{repository}:{tag}";
        var watch = Stopwatch.StartNew();
        string? moved = null;
        log.Info($"push: {hostImage} ({image.Size / 1_000_000.0:0} MB) → {target} as {clusterReference}");
        var diffIds = image.RootFS?.Layers?.ToList() ?? [];
        var seeded = layerStoreOf is null ? null : await LayerStore.SeedAsync(layerStoreOf, repository, diffIds, cancellationToken).ConfigureAwait(false);
        await docker.Images.TagImageAsync(image.ID, new ImageTagParameters { RepositoryName = hostRepository, Tag = tag, Force = true }, cancellationToken).ConfigureAwait(false);
        try
        {
            var progress = new DockerProgress(log, $"push {repository}:{tag}");
            try
            {
                await docker.Images.PushImageAsync($"{hostRepository}:{tag}", new ImagePushParameters { Tag = tag }, registry.Auth ?? new AuthConfig(), progress, cancellationToken).ConfigureAwait(false);
            }
            catch (DockerApiException ex)
            {
                throw new KubeDindException($"push: {hostImage} to {target} failed: {DockerEngine.FirstLine(ex)}", string.Join('\n', progress.RecentLines), ex);
            }

            if (progress.Error is not null)
            {
                throw new KubeDindException($"push: {hostImage} to {target} failed: {progress.Error}", string.Join('\n', progress.RecentLines));
            }

            moved = progress.Summary;
        }
        finally
        {
            await RemoveTemporaryTagAsync(docker, log, $"{hostRepository}:{tag}", image.ID).ConfigureAwait(false);
        }

        // When the store had every layer nothing was sent, so there is nothing to store (and one exec less).
        var stored = layerStoreOf is null || seeded is null
            ? null
            : new LayerStorePush(
                diffIds.Count,
                seeded,
                LayerStorePush.HadAll(diffIds.Count, seeded) ? null : await LayerStore.KeepAsync(layerStoreOf, repository, tag, diffIds, cancellationToken).ConfigureAwait(false));
        log.Info($"push: {clusterReference} pushed in {watch.Elapsed.TotalSeconds:0.0}s" + (moved is null ? string.Empty : $": {moved}") + (stored is null ? string.Empty : $"; {stored.Summary()}"));
        return new PushedImage(clusterReference, LinkingUnpacked: seeded is { Linking: > 0 });
    }

    /// <summary>
    /// The repository and fixed tag in the cluster's registry: <paramref name="name"/> ("repo" or "repo:tag") when given,
    /// else the host image's repository without its registry host; a floating tag becomes <c>id-&lt;12 hex of the image id&gt;</c>.
    /// </summary>
    internal static (string Repository, string Tag) ClusterImageName(string hostImage, string? name, string imageId)
    {
        var source = string.IsNullOrWhiteSpace(name) ? hostImage : name;
        if (source.StartsWith("sha256:", StringComparison.Ordinal) || (source.Length >= 12 && source.All(char.IsAsciiHexDigitLower)))
        {
            throw new KubeDindException($"push: '{hostImage}' is an image id; give a name to push it under (PushImageAsync(image, \"myapp\")).");
        }

        var withoutDigest = source.Split('@')[0];
        var floating = ImageReference.IsFloating(withoutDigest);
        var (repository, tag) = ImageReference.SplitTag(withoutDigest);
        var slash = repository.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            var first = repository[..slash];
            if (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost")
            {
                repository = repository[(slash + 1)..];
            }
        }

        if (floating)
        {
            tag = "id-" + imageId.Replace("sha256:", string.Empty, StringComparison.Ordinal)[..12];
        }

        return (repository.ToLowerInvariant(), tag);
    }

    /// <summary>Removes the registry tag unless it is the image's only name (removing it would delete the image).</summary>
    private static async Task RemoveTemporaryTagAsync(IDockerClient docker, IKubeDindLog log, string temporaryTag, string imageId)
    {
        try
        {
            var image = await docker.Images.InspectImageAsync(imageId, CancellationToken.None).ConfigureAwait(false);
            if (image.RepoTags?.Any(t => t != temporaryTag) != true)
            {
                log.Debug($"push: keeping tag {temporaryTag}: it is the image's only name");
                return;
            }

            await docker.Images.DeleteImageAsync(temporaryTag, new ImageDeleteParameters { Force = false, NoPrune = true }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (DockerApiException ex)
        {
            log.Debug($"push: could not remove the temporary tag {temporaryTag}: {DockerEngine.FirstLine(ex)}");
        }
    }
}

/// <summary>
/// What a push left: the reference pods pull, and whether the layer store started linking layers of it unpacked into the
/// cluster's containerd in the background (which the cluster's next Deploy or RunJob waits for).
/// </summary>
internal sealed record PushedImage(string Reference, bool LinkingUnpacked);

/// <summary>A registry to push to: the name the host's engine pushes under, the name pods pull by, and credentials (null = none).</summary>
internal sealed record RegistryTarget(string PushName, string PullName, AuthConfig? Auth = null);
