using System.Diagnostics;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// Side-loads a host image into the cluster's inner dockerd without a registry: streams <c>docker save</c>
/// from the host engine into <c>docker load</c> inside. Skipped when the inner daemon already has the same
/// image id. A floating tag (<c>:latest</c> or none) also gets a fixed tag derived from the image id, which
/// is returned, so pods use the image that was loaded (kubelet would try to pull <c>:latest</c>).
/// </summary>
public sealed class LoadImage
{
    private readonly KubeDindSession _session;

    public LoadImage(KubeDindSession session) => _session = session;

    public async Task<string> RunAsync(KubeDindCluster cluster, string hostImage, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentException.ThrowIfNullOrWhiteSpace(hostImage);
        await cluster.EnsureAliveAsync("load", cancellationToken).ConfigureAwait(false);
        var docker = _session.Docker;
        var image = await new ImageStore(docker, _session.Log).InspectAsync(hostImage, cancellationToken).ConfigureAwait(false)
            ?? throw new KubeDindException($"load: image '{hostImage}' is not on the Docker engine; build or pull it first (docker images lists what is there).");
        var (repository, _) = ImageReference.SplitTag(hostImage);
        var reference = ImageReference.IsFloating(hostImage)
            ? $"{repository}:id-{image.ID.Replace("sha256:", string.Empty, StringComparison.Ordinal)[..12]}"
            : hostImage;

        var watch = Stopwatch.StartNew();
        var inner = await InnerImageIdAsync(cluster, hostImage, cancellationToken).ConfigureAwait(false);
        if (inner == image.ID)
        {
            _session.Log.Info($"load: cluster {cluster.Name} already has {hostImage} ({image.ID[7..19]}); skipped");
        }
        else
        {
            _session.Log.Info($"load: {hostImage} ({image.Size / 1_000_000.0:0} MB) → cluster {cluster.Name}'s dockerd");
            await using var saved = new ProgressStream(await docker.Images.SaveImageAsync(hostImage, cancellationToken).ConfigureAwait(false), image.Size, _session.Log, $"load {hostImage}");
            var result = await ContainerExec.RunAsync(docker, cluster.ContainerId, ["docker", "load"], saved, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                throw new KubeDindException($"load: {hostImage} into cluster {cluster.Name} failed: {result.FirstErrorLine}", (result.StandardOutput + result.StandardError).Trim());
            }

            _session.Log.Info($"load: {hostImage} loaded in {watch.Elapsed.TotalSeconds:0.0}s: {saved.Summary} streamed");
        }

        if (reference != hostImage)
        {
            var tagged = await ContainerExec.RunAsync(docker, cluster.ContainerId, ["docker", "tag", image.ID, reference], cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!tagged.Succeeded)
            {
                throw new KubeDindException($"load: cannot tag {hostImage} as {reference} in cluster {cluster.Name}: {tagged.FirstErrorLine}");
            }
        }

        cluster.RecordImage(hostImage, reference);
        return reference;
    }

    private static async Task<string?> InnerImageIdAsync(KubeDindCluster cluster, string image, CancellationToken cancellationToken)
    {
        var result = await ContainerExec.RunAsync(cluster.Session.Docker, cluster.ContainerId, ["docker", "image", "inspect", "--format", "{{.Id}}", image], cancellationToken: cancellationToken).ConfigureAwait(false);
        return result.Succeeded ? result.StandardOutput.Trim() : null;
    }
}
