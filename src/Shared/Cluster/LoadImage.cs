using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// Side-loads a host image into the cluster without a registry: streams <c>docker save</c> from the host engine into
/// <c>ctr -n k8s.io images import</c> inside, where pods find it (k3s's containerd; on every node of a multi-node
/// cluster, each node that lacks it getting its own stream); in compose mode into the inner
/// dockerd (<c>docker load</c>). Skipped where the same image id is already there; an image this run already loaded into
/// a node is checked there with one cheap name-and-manifest query instead of the full id check. A floating tag (<c>:latest</c> or
/// none) also gets a fixed tag derived from the image id, which is returned, so pods use the image that was loaded
/// (kubelet would try to pull <c>:latest</c>).
/// </summary>
public sealed partial class LoadImage
{
    private readonly KubeDindSession _session;

    public LoadImage(KubeDindSession session) => _session = session;

    public async Task<string> RunAsync(KubeDindCluster cluster, string hostImage, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentException.ThrowIfNullOrWhiteSpace(hostImage);
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

        // The cheap check of an image this run loaded before needs neither the host image's id nor the health check's
        // answer, so it runs beside the first. Where every node still has the image, containerd answered there and
        // nothing is loaded, so the health check (an exec of its own, about as long as the check) is left to the steps
        // that need the rest of the cluster; otherwise it runs before anything is streamed.
        cluster.ThrowIfTornDown();
        var checks = new Dictionary<string, (LoadedImage Remembered, Task<bool> StillThere)>(StringComparer.Ordinal);
        foreach (var (_, inner) in nodes)
        {
            if (cluster.LoadedImages.Find(inner.ContainerId, hostImage) is { } remembered)
            {
                checks[inner.ContainerId] = (remembered, inner.StillHasAsync(remembered, cancellationToken));
            }
        }

        var docker = _session.Docker;
        ImageInspectResponse image;
        try
        {
            image = await new ImageStore(docker, _session.Log).InspectAsync(hostImage, cancellationToken).ConfigureAwait(false)
                ?? throw new KubeDindException($"load: image '{hostImage}' is not on the Docker engine; build or pull it first (docker images lists what is there).");
        }
        catch
        {
            await SettleAsync(checks.Values.Select(c => c.StillThere)).ConfigureAwait(false);
            throw;
        }

        // Still there and still the host image (which may have been rebuilt under its name since).
        var confirmed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (containerId, check) in checks)
        {
            if (await check.StillThere.ConfigureAwait(false) && check.Remembered.ImageId == image.ID)
            {
                confirmed.Add(containerId);
            }
            else
            {
                cluster.LoadedImages.Forget(containerId, hostImage);
            }
        }

        if (!nodes.All(n => confirmed.Contains(n.Inner.ContainerId)))
        {
            await cluster.EnsureAliveAsync("load", cancellationToken).ConfigureAwait(false);
        }

        var (repository, _) = ImageReference.SplitTag(hostImage);
        var reference = ImageReference.IsFloating(hostImage)
            ? $"{repository}:id-{image.ID.Replace("sha256:", string.Empty, StringComparison.Ordinal)[..12]}"
            : hostImage;

        var watch = Stopwatch.StartNew();
        var loaded = new List<string>();
        string? streamed = null;
        foreach (var (node, inner) in nodes)
        {
            var where = nodes.Count == 1 ? $"cluster {cluster.Name}" : $"node {node} of cluster {cluster.Name}";
            if (confirmed.Contains(inner.ContainerId))
            {
                _session.Log.Info($"load: {where} already has {reference} ({image.ID[7..19]}) in its {inner.Name}, loaded earlier in this run and checked by name and manifest; skipped");
                continue;
            }

            if (await inner.IdAsync(reference, cancellationToken).ConfigureAwait(false) == image.ID)
            {
                _session.Log.Info($"load: {where} already has {reference} ({image.ID[7..19]}) in its {inner.Name}; skipped");
                continue;
            }

            _session.Log.Info($"load: {hostImage} ({image.Size / 1_000_000.0:0} MB) → {where}'s {inner.Name}");
            string? imported;
            await using (var saved = new ProgressStream(await docker.Images.SaveImageAsync(hostImage, cancellationToken).ConfigureAwait(false), image.Size, _session.Log, $"load {hostImage}"))
            {
                var result = await ContainerExec.RunAsync(docker, inner.ContainerId, inner.ImportCommand, saved, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!result.Succeeded)
                {
                    throw new KubeDindException($"load: {hostImage} into {where} failed: {result.FirstErrorLine}", (result.StandardOutput + result.StandardError).Trim());
                }

                streamed = saved.Summary;
                imported = inner.ImportedManifest(hostImage, result.StandardOutput);
            }

            if (reference != hostImage)
            {
                var tagged = await ContainerExec.RunAsync(docker, inner.ContainerId, inner.TagCommand(hostImage, image.ID, reference), cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!tagged.Succeeded)
                {
                    throw new KubeDindException($"load: cannot tag {hostImage} as {reference} in {where}: {tagged.FirstErrorLine}");
                }
            }

            // The tag points the reference at the same manifest, so the imported name's digest is the reference's.
            if (imported is not null)
            {
                cluster.LoadedImages.Remember(inner.ContainerId, hostImage, new LoadedImage(image.ID, reference, imported));
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

    /// <summary>Waits for checks that no longer matter (the load failed before using them); their own outcome is dropped.</summary>
    private static async Task SettleAsync(IEnumerable<Task<bool>> checks)
    {
        try
        {
            await Task.WhenAll(checks).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>ctr images import's "unpacking docker.io/library/app:1 (sha256:…)...done" line: the name and its manifest digest.</summary>
    [GeneratedRegex(@"unpacking (?<name>\S+) \((?<digest>sha256:[0-9a-f]{64})\)")]
    private static partial Regex UnpackingLine();

    private interface IInnerImages
    {
        string Name { get; }

        /// <summary>The container whose store this is (the server, an agent, or the compose-mode container).</summary>
        string ContainerId { get; }

        IReadOnlyList<string> ImportCommand { get; }

        /// <summary>The image id (config digest) of <paramref name="reference"/> inside, or null when it is not there.</summary>
        Task<string?> IdAsync(string reference, CancellationToken cancellationToken);

        /// <summary>
        /// The manifest digest the import gave <paramref name="hostImage"/>'s name, read from the import's output; null when
        /// the store reports none (nothing is then remembered, and the next load checks as on a first one).
        /// </summary>
        string? ImportedManifest(string hostImage, string importOutput);

        /// <summary>
        /// A cheap check that the reference of an image loaded earlier in this run still points at the manifest the import
        /// gave it; false when it does not or the check cannot tell (the full <see cref="IdAsync"/> check follows). Never
        /// throws but for cancellation: it runs beside the health check, whose error is the one to report.
        /// </summary>
        Task<bool> StillHasAsync(LoadedImage loaded, CancellationToken cancellationToken);

        IReadOnlyList<string> TagCommand(string source, string imageId, string target);
    }

    /// <summary>k3s's containerd, namespace k8s.io (the one kubelet uses); ids through crictl, which reports the config digest as Docker does.</summary>
    private sealed class ContainerdImages(KubeDindCluster cluster, string containerId) : IInnerImages
    {
        /// <summary>Debian's ctr, not k3s's multicall link on PATH (see <see cref="StillHasAsync"/>).</summary>
        private const string StandaloneCtr = "/usr/bin/ctr";

        /// <summary>Where k3s's embedded containerd listens (its default; the k3s-linked tools find it on their own).</summary>
        private const string K3sContainerdSocket = "/run/k3s/containerd/containerd.sock";

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

        public string? ImportedManifest(string hostImage, string importOutput)
        {
            var name = ImageReference.Normalize(hostImage);
            return UnpackingLine().Matches(importOutput).FirstOrDefault(m => m.Groups["name"].Value == name)?.Groups["digest"].Value;
        }

        /// <summary>
        /// Asks containerd whether the name still points at the manifest this run imported. Kubelet's image garbage
        /// collection, <c>crictl rmi</c> and <c>ctr images rm</c> remove or move names, so a load is never skipped on memory
        /// alone. The name is what pods resolve, so a file test on the image's content blobs would not do: <c>ctr images
        /// rm</c> drops the name at once but leaves the blobs until containerd's next garbage collection. Debian's
        /// standalone <c>ctr</c> (in the image with containerd's runc shim) answers in about a third of the time of k3s's
        /// multicall binary behind <c>crictl</c> and the linked <c>ctr</c>; where it is missing, the exec fails and the full
        /// check runs.
        /// </summary>
        public async Task<bool> StillHasAsync(LoadedImage loaded, CancellationToken cancellationToken)
        {
            var name = ImageReference.Normalize(loaded.Reference);
            try
            {
                var result = await ContainerExec.RunAsync(
                    cluster.Session.Docker,
                    containerId,
                    [StandaloneCtr, "--address", K3sContainerdSocket, "--namespace", "k8s.io", "images", "ls", "--quiet", $"name=={name},target.digest=={loaded.ManifestDigest}"],
                    cancellationToken: cancellationToken).ConfigureAwait(false);
                return result.Succeeded && result.StandardOutput.Split('\n', StringSplitOptions.TrimEntries).Contains(name, StringComparer.Ordinal);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return false;
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

        // docker image inspect already reads the exact id with a light client: memory would save nothing.
        public string? ImportedManifest(string hostImage, string importOutput) => null;

        public Task<bool> StillHasAsync(LoadedImage loaded, CancellationToken cancellationToken) => Task.FromResult(false);

        public IReadOnlyList<string> TagCommand(string source, string imageId, string target) => ["docker", "tag", imageId, target];
    }
}
