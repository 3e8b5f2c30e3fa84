using System.Diagnostics;
using System.Text.Json;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// Side-loads a host image into the cluster without a registry: streams <c>docker save</c> from the host engine into
/// <c>ctr -n k8s.io images import</c> inside, where pods find it (k3s's containerd; on every node of a multi-node
/// cluster, each node that lacks it getting its own stream); in compose mode into the inner
/// dockerd (<c>docker load</c>). Skipped where the same image id is already there. A floating tag (<c>:latest</c> or
/// none) also gets a fixed tag derived from the image id, which is returned, so pods use the image that was loaded
/// (kubelet would try to pull <c>:latest</c>).
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
        // Every node imports it (pods may run on any); compose mode has the one inner dockerd.
        var nodes = new List<(string Node, IInnerImages Inner)>();
        if (cluster.HasKubernetes)
        {
            nodes.Add((ClusterContainerSpec.ServerNodeName, new ContainerdImages(cluster, cluster.ContainerId)));
            nodes.AddRange(cluster.Agents.Select(a => (a.NodeName, (IInnerImages)new ContainerdImages(cluster, a.ContainerId))));
        }
        else
        {
            nodes.Add((cluster.Name, new DockerdImages(cluster)));
        }

        var watch = Stopwatch.StartNew();
        var loaded = new List<string>();
        string? streamed = null;
        foreach (var (node, inner) in nodes)
        {
            var where = nodes.Count == 1 ? $"cluster {cluster.Name}" : $"node {node} of cluster {cluster.Name}";
            if (await inner.IdAsync(reference, cancellationToken).ConfigureAwait(false) == image.ID)
            {
                _session.Log.Info($"load: {where} already has {reference} ({image.ID[7..19]}) in its {inner.Name}; skipped");
                continue;
            }

            _session.Log.Info($"load: {hostImage} ({image.Size / 1_000_000.0:0} MB) → {where}'s {inner.Name}");
            await using (var saved = new ProgressStream(await docker.Images.SaveImageAsync(hostImage, cancellationToken).ConfigureAwait(false), image.Size, _session.Log, $"load {hostImage}"))
            {
                var result = await ContainerExec.RunAsync(docker, inner.ContainerId, inner.ImportCommand, saved, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!result.Succeeded)
                {
                    throw new KubeDindException($"load: {hostImage} into {where} failed: {result.FirstErrorLine}", (result.StandardOutput + result.StandardError).Trim());
                }

                streamed = saved.Summary;
            }

            if (reference != hostImage)
            {
                var tagged = await ContainerExec.RunAsync(docker, inner.ContainerId, inner.TagCommand(hostImage, image.ID, reference), cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!tagged.Succeeded)
                {
                    throw new KubeDindException($"load: cannot tag {hostImage} as {reference} in {where}: {tagged.FirstErrorLine}");
                }
            }

            loaded.Add(node);
        }

        if (loaded.Count > 0)
        {
            _session.Log.Info($"load: {hostImage} loaded in {watch.Elapsed.TotalSeconds:0.0}s{(reference != hostImage ? $" as {reference}" : string.Empty)}: {streamed} streamed{(nodes.Count > 1 ? $" to each of {loaded.Count} nodes ({string.Join(", ", loaded)})" : string.Empty)}");
        }

        cluster.RecordImage(hostImage, reference);
        return reference;
    }

    private interface IInnerImages
    {
        string Name { get; }

        /// <summary>The container whose store this is (the server, an agent, or the compose-mode container).</summary>
        string ContainerId { get; }

        IReadOnlyList<string> ImportCommand { get; }

        /// <summary>The image id (config digest) of <paramref name="reference"/> inside, or null when it is not there.</summary>
        Task<string?> IdAsync(string reference, CancellationToken cancellationToken);

        IReadOnlyList<string> TagCommand(string source, string imageId, string target);
    }

    /// <summary>k3s's containerd, namespace k8s.io (the one kubelet uses); ids through crictl, which reports the config digest as Docker does.</summary>
    private sealed class ContainerdImages(KubeDindCluster cluster, string containerId) : IInnerImages
    {
        public string Name => "containerd (k8s.io)";

        public string ContainerId => containerId;

        public IReadOnlyList<string> ImportCommand => ["ctr", "--namespace", "k8s.io", "images", "import", "--all-platforms", "-"];

        public async Task<string?> IdAsync(string reference, CancellationToken cancellationToken)
        {
            var result = await ContainerExec.RunAsync(cluster.Session.Docker, containerId, ["crictl", "inspecti", "-o", "json", reference], cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                return null;
            }

            try
            {
                using var json = JsonDocument.Parse(result.StandardOutput);
                return json.RootElement.TryGetProperty("status", out var status) && status.TryGetProperty("id", out var id) ? id.GetString() : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }

        public IReadOnlyList<string> TagCommand(string source, string imageId, string target) =>
            ["ctr", "--namespace", "k8s.io", "images", "tag", "--force", ImageReference.Normalize(source), ImageReference.Normalize(target)];
    }

    private sealed class DockerdImages(KubeDindCluster cluster) : IInnerImages
    {
        public string Name => "dockerd";

        public string ContainerId => cluster.ContainerId;

        public IReadOnlyList<string> ImportCommand => ["docker", "load"];

        public async Task<string?> IdAsync(string reference, CancellationToken cancellationToken)
        {
            var result = await ContainerExec.RunAsync(cluster.Session.Docker, cluster.ContainerId, ["docker", "image", "inspect", "--format", "{{.Id}}", reference], cancellationToken: cancellationToken).ConfigureAwait(false);
            return result.Succeeded ? result.StandardOutput.Trim() : null;
        }

        public IReadOnlyList<string> TagCommand(string source, string imageId, string target) => ["docker", "tag", imageId, target];
    }
}
