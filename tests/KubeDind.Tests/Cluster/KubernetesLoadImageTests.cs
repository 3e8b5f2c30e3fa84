using System.Diagnostics;
using KubeDind.Docker;

namespace KubeDind.Tests.Cluster;

/// <summary>LoadImage of an image this run already loaded: skipped after one cheap check, and loaded again when it is gone.</summary>
public sealed partial class KubernetesClusterTests
{
    /// <summary>A small image of its own id (a marker file), on the host engine; the caller removes it.</summary>
    private async Task<(string Tag, string Marker)> MarkedImageAsync()
    {
        var session = fixture.Session!;
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(Ct);
        var marker = Guid.NewGuid().ToString("N");
        var tag = $"kdt-load-again:{marker[..8]}";
        var context = new BuildContext().AddText("Dockerfile", $"FROM {baseImage}\nRUN echo {marker} > /marker\n");
        await new ImageStore(session.Docker, session.Log).BuildAsync(context, tag, new Dictionary<string, string>(), new Dictionary<string, string>(), Ct);
        return (tag, marker);
    }

    [Fact]
    public async Task Loading_an_image_again_is_skipped_after_a_cheap_check_and_pods_still_run_it()
    {
        var cluster = Cluster;
        var (tag, marker) = await MarkedImageAsync();
        try
        {
            Assert.Equal(tag, await cluster.LoadImageAsync(tag, Ct));
            var watch = Stopwatch.StartNew();
            Assert.Equal(tag, await cluster.LoadImageAsync(tag, Ct));
            output.WriteLine($"load again: {watch.Elapsed.TotalSeconds:0.000}s");
            Assert.Contains(fixture.Log.Lines, l => l.Message.Contains($"already has {tag} (", StringComparison.Ordinal) && l.Message.Contains("checked by name and manifest; skipped", StringComparison.Ordinal));
            Assert.Single(fixture.Log.Lines, l => l.Message.StartsWith($"load: {tag} loaded in", StringComparison.Ordinal));

            var ns = Namespace();
            await KubectlAsync(string.Empty, "create", "namespace", ns);
            await ApplyAsync($$"""
                apiVersion: v1
                kind: Pod
                metadata: { name: marker, namespace: {{ns}} }
                spec:
                  restartPolicy: Never
                  containers:
                    - name: marker
                      image: {{tag}}
                      imagePullPolicy: Never
                      command: ["cat", "/marker"]
                """);
            Assert.Equal(marker, (await RunToCompletionAsync(ns, "marker")).Trim());
            await KubectlAsync(string.Empty, "delete", "namespace", ns, "--wait=false");
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(fixture.Session!, tag);
        }
    }

    [Fact]
    public async Task Loading_again_an_image_removed_inside_imports_it_again()
    {
        var cluster = Cluster;
        var (tag, _) = await MarkedImageAsync();
        var name = ImageReference.Normalize(tag);
        try
        {
            await cluster.LoadImageAsync(tag, Ct);
            // ctr images rm drops the name at once but leaves the content until containerd's next garbage collection.
            var removed = await cluster.ExecAsync(["ctr", "--namespace", "k8s.io", "images", "rm", name], null, Ct);
            Assert.True(removed.Succeeded, removed.FirstErrorLine);

            await cluster.LoadImageAsync(tag, Ct);
            Assert.Equal(2, fixture.Log.Lines.Count(l => l.Message.StartsWith($"load: {tag} loaded in", StringComparison.Ordinal)));
            Assert.DoesNotContain(fixture.Log.Lines, l => l.Message.Contains($"already has {tag} (", StringComparison.Ordinal));
            var listed = await cluster.ExecAsync(["ctr", "--namespace", "k8s.io", "images", "ls", "--quiet", $"name=={name}"], null, Ct);
            Assert.Equal(name, listed.StandardOutput.Trim());

            // Remembered again after the second import: a third load is skipped by the cheap check.
            await cluster.LoadImageAsync(tag, Ct);
            Assert.Contains(fixture.Log.Lines, l => l.Message.Contains($"already has {tag} (", StringComparison.Ordinal) && l.Message.Contains("checked by name and manifest; skipped", StringComparison.Ordinal));
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(fixture.Session!, tag);
        }
    }
}
