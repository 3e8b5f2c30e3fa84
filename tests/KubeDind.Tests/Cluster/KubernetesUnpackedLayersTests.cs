using System.Security.Cryptography;
using System.Text;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Docker;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// The layer store's unpacked layers: what one cluster's containerd unpacked, a new cluster's containerd finds
/// unpacked (snapshots linked to the store), and runs the image from them as it was built, deletions included.
/// </summary>
public sealed partial class KubernetesClusterTests
{
    [Fact]
    public async Task A_new_cluster_finds_the_layers_an_earlier_one_unpacked_and_runs_the_image_from_them()
    {
        var session = fixture.Session!;
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(Ct);
        var marker = Guid.NewGuid().ToString("N");
        var tag = $"kdt-unpacked:{marker[..8]}";
        // Its own layer adds a file and deletes a directory of the base layer: the stored copy must keep the deletion
        // (overlayfs whiteouts) for the image to look as built.
        var context = new BuildContext().AddText("Dockerfile", $"FROM {baseImage}\nRUN echo {marker} > /marker && rm -rf /usr/share/doc\n");
        await new ImageStore(session.Docker, session.Log).BuildAsync(context, tag, new Dictionary<string, string>(), new Dictionary<string, string>(), Ct);
        try
        {
            var diffIds = (await session.Docker.Images.InspectImageAsync(tag, Ct)).RootFS.Layers;
            var top = ChainIds(diffIds)[^1];
            var job = new JobRunSettings { Command = ["sh", "-c", "cat /marker; ls /usr/share/doc 2>/dev/null | wc -l"], Timeout = TimeSpan.FromMinutes(3) };

            // Torn down right after its job: the teardown waits for the background copy of what its containerd
            // unpacked, however soon it comes.
            JobRunResult first;
            await using (var earlier = await session.StartClusterAsync(new ClusterSettings { Name = ClusterTestSupport.UniqueName("unpacked"), ArtifactsDirectory = fixture.Artifacts }, Ct))
            {
                var reference = await earlier.PushImageAsync(tag, cancellationToken: Ct);
                first = await earlier.RunJobAsync(job with { Image = reference, Name = "unpacked-first" }, Ct);
                Assert.True(first.Succeeded, first.Output);
            }

            await using var second = await session.StartClusterAsync(new ClusterSettings { Name = ClusterTestSupport.UniqueName("unpacked"), ArtifactsDirectory = fixture.Artifacts }, Ct);
            // Pushed together with the base image, whose layers are the first of this one: the two background links
            // commit the same chain ids, one after the other, and the second finds the first's snapshots.
            var baseLayers = (await session.Docker.Images.InspectImageAsync(baseImage, Ct)).RootFS.Layers.Count;
            var pushed = await Task.WhenAll(second.PushImageAsync(tag, cancellationToken: Ct), second.PushImageAsync(baseImage, cancellationToken: Ct));
            var secondReference = pushed[0];
            Assert.Contains(fixture.Log.Lines, l => l.Message.StartsWith($"push: {secondReference} pushed", StringComparison.Ordinal)
                && l.Message.EndsWith($"linking {diffIds.Count} of {diffIds.Count} layers unpacked into the cluster's containerd in the background", StringComparison.Ordinal));

            var run = await second.RunJobAsync(job with { Image = secondReference, Name = "unpacked-second" }, Ct);
            Assert.True(run.Succeeded, run.Output);
            Assert.Equal($"{marker}\n0", run.Output.Trim());
            Assert.Equal(first.Output.Trim(), run.Output.Trim());

            // The job waited for the pushes' links before its pod pulled, and the pull used the linked layers: containerd's
            // snapshot of the image's top layer is still the link to the store's (a pull that unpacked would have
            // committed a directory of its own first, and the link's commit would have found it there).
            Assert.Contains(fixture.Log.Lines, l => l.Message.StartsWith($"cluster {second.Name}: job waited ", StringComparison.Ordinal)
                && l.Message.EndsWith($"{diffIds.Count + baseLayers} of {diffIds.Count + baseLayers} layers already unpacked for the cluster's containerd", StringComparison.Ordinal));
            var linked = await second.ExecAsync("sh", "-c", $"readlink /var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/*/fs | grep -x '{ImageContract.Current.LayerStoreDirectory}/unpacked/{top}'");
            Assert.True(linked.Succeeded, $"no snapshot of containerd links to the stored layer {top}: {linked.FirstErrorLine}");
            // Debian's ctr commits the linked snapshot labelled a GC root, so containerd's garbage collection keeps it
            // until a pull references it.
            var info = await second.ExecAsync("/usr/bin/ctr", "--address", "/run/k3s/containerd/containerd.sock", "--namespace", "k8s.io", "snapshots", "--snapshotter", "overlayfs", "info", $"sha256:{top}");
            Assert.Contains("containerd.io/gc.root", info.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(session, tag);
        }
    }

    /// <summary>
    /// A start that pushes an image while k3s boots: its links of the stored unpacked layers may begin before k3s's
    /// containerd runs, and wait for it; the pod then runs from the linked layers.
    /// </summary>
    [Fact]
    public async Task A_start_pushes_its_images_while_Kubernetes_boots_and_its_pods_find_their_layers_unpacked()
    {
        var session = fixture.Session!;
        var shared = Cluster;
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(Ct);
        var marker = Guid.NewGuid().ToString("N");
        var tag = $"kdt-at-start:{marker[..8]}";
        await new ImageStore(session.Docker, session.Log).BuildAsync(new BuildContext().AddText("Dockerfile", $"FROM {baseImage}\nRUN echo {marker} > /marker\n"), tag, new Dictionary<string, string>(), new Dictionary<string, string>(), Ct);
        try
        {
            var layers = (await session.Docker.Images.InspectImageAsync(tag, Ct)).RootFS.Layers.Count;
            var job = new JobRunSettings { Command = ["cat", "/marker"], Timeout = TimeSpan.FromMinutes(3) };

            // The shared cluster runs it first, so the store holds its layers unpacked.
            var first = await shared.RunJobAsync(job with { Image = await shared.PushImageAsync(tag, cancellationToken: Ct), Name = "at-start-first" }, Ct);
            Assert.True(first.Succeeded, first.Output);
            await LayerStore.FinishKeepingUnpackedAsync(shared, Ct);

            await using var started = await session.StartClusterAsync(new ClusterSettings { Name = ClusterTestSupport.UniqueName("at-start"), ArtifactsDirectory = fixture.Artifacts, ImagesToPush = [tag] }, Ct);

            Assert.True(started.Images.TryGetValue(tag, out var reference), "the image the start pushed is not among the cluster's images");
            var messages = fixture.Log.Lines.Select(l => l.Message).ToList();
            var pushed = messages.FindIndex(m => m.StartsWith($"cluster {started.Name}: 1 image pushed after ", StringComparison.Ordinal));
            var ready = messages.FindIndex(m => m.StartsWith($"cluster {started.Name}: ready in ", StringComparison.Ordinal));
            Assert.True(pushed >= 0 && pushed < ready, "the start did not say it pushed the image before it was ready");
            var run = await started.RunJobAsync(job with { Image = reference, Name = "at-start-second" }, Ct);
            Assert.True(run.Succeeded, run.Output);
            Assert.Equal(marker, run.Output.Trim());
            Assert.Contains(fixture.Log.Lines, l => l.Message.StartsWith($"cluster {started.Name}: job waited ", StringComparison.Ordinal)
                && l.Message.EndsWith($"{layers} of {layers} layers already unpacked for the cluster's containerd", StringComparison.Ordinal));
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(session, tag);
        }
    }

    /// <summary>An image's chain ids (hex): containerd names each layer's snapshot by it.</summary>
    private static List<string> ChainIds(IEnumerable<string> diffIds)
    {
        List<string> chain = [];
        foreach (var diffId in diffIds)
        {
            chain.Add(chain.Count == 0
                ? diffId
                : "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes($"{chain[^1]} {diffId}"))));
        }

        return [.. chain.Select(c => c["sha256:".Length..])];
    }
}
