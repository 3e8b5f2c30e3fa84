using Docker.DotNet;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// The engine's layer store against the real engine, on compose-mode clusters (the store serves the registry, which
/// both modes have). Each test uses a store volume of its own, so what it counts is its own doing while the other
/// tests use the default store.
/// </summary>
public sealed class LayerStoreTests : IAsyncLifetime
{
    private readonly CapturingLog _log = new();
    private readonly List<string> _images = [];
    private readonly string _volume = ClusterTestSupport.UniqueName("layers");
    private KubeDindSession _session = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IEnumerable<string> Messages => _log.Lines.Select(l => l.Message);

    public async ValueTask InitializeAsync() => _session = await KubeDindSession.ConnectAsync(_log);

    public async ValueTask DisposeAsync()
    {
        foreach (var image in _images)
        {
            await ClusterTestSupport.RemoveImageAsync(_session, image);
        }

        await LayerStore.RemoveAsync(_session, _volume, CancellationToken.None);
        _session.Dispose();
    }

    [Fact]
    public async Task The_store_is_labelled_KubeDinds_but_no_runs_so_a_check_for_what_a_run_left_finds_nothing()
    {
        await LayerStore.EnsureVolumeAsync(_session, new LayerStoreSettings { Volume = _volume }, Ct);

        var labels = (await _session.Docker.Volumes.InspectAsync(_volume, Ct)).Labels;
        Assert.True(KubeDindLabels.IsOwned(labels));
        Assert.Equal(LayerStoreSettings.Role, labels[KubeDindLabels.Role]);
        Assert.DoesNotContain(KubeDindLabels.RunId, labels.Keys);
        Assert.DoesNotContain(KubeDindLabels.OwnerPid, labels.Keys);
    }

    [Fact]
    public async Task A_second_cluster_gets_an_unchanged_image_from_the_store_sends_nothing_and_runs_it()
    {
        var image = await TwoLayerImageAsync("again");
        await using (var first = await StartAsync("first", new LayerStoreSettings { Volume = _volume }))
        {
            await first.PushImageAsync(image, cancellationToken: Ct);
            Assert.Contains(Messages, l => l.Contains("sent 2 of 2 layers", StringComparison.Ordinal));
        }

        await using var second = await StartAsync("second", new LayerStoreSettings { Volume = _volume });
        var reference = await second.PushImageAsync(image, cancellationToken: Ct);
        var line = Assert.Single(Messages, l => l.Contains("sent 0 of 2 layers", StringComparison.Ordinal));
        Assert.Contains("2 (", line, StringComparison.Ordinal);

        // The registry serves the stored blobs as whole, valid layers: the inner dockerd pulls (and verifies) them.
        var run = await second.ExecAsync("docker", "run", "--rm", reference);
        Assert.True(run.Succeeded, run.FirstErrorLine);
        Assert.Contains("ldconfig", run.StandardOutput + run.StandardError, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Clusters_pushing_the_same_new_image_at_once_both_get_it_whole()
    {
        var image = await TwoLayerImageAsync("together");
        await using var one = await StartAsync("one", new LayerStoreSettings { Volume = _volume });
        await using var two = await StartAsync("two", new LayerStoreSettings { Volume = _volume });

        var references = await Task.WhenAll(one.PushImageAsync(image, cancellationToken: Ct), two.PushImageAsync(image, cancellationToken: Ct));

        foreach (var (cluster, reference) in new[] { (one, references[0]), (two, references[1]) })
        {
            var run = await cluster.ExecAsync("docker", "run", "--rm", reference);
            Assert.True(run.Succeeded, $"{cluster.Name}: {run.FirstErrorLine}");
        }

        // Whoever stored a layer first, the store holds each once, whole: a third cluster sends nothing.
        await using var three = await StartAsync("three", new LayerStoreSettings { Volume = _volume });
        await three.PushImageAsync(image, cancellationToken: Ct);
        Assert.Single(Messages, l => l.Contains("sent 0 of 2 layers", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_store_over_its_limit_drops_the_least_recently_used_layers_and_the_push_still_works()
    {
        var older = await TwoLayerImageAsync("older");
        var newer = await TwoLayerImageAsync("newer");
        // Room for about one image's layers (each ~3 MB of random data, stored as it is sent).
        var settings = new LayerStoreSettings { Volume = _volume, LimitBytes = 4_000_000 };
        await using (var cluster = await StartAsync("limit", settings))
        {
            await cluster.PushImageAsync(older, cancellationToken: Ct);
            // Pruning leaves what was used in the last hour (running registries serve it): make the older image's use old.
            var aged = await cluster.ExecAsync("sh", "-c", $"find {ImageContract.Current.LayerStoreDirectory}/blobs -type f -exec touch -d '2 hours ago' {{}} +");
            Assert.True(aged.Succeeded, aged.FirstErrorLine);
            await cluster.PushImageAsync(newer, cancellationToken: Ct);
            Assert.Contains(Messages, l => l.Contains("least recently used layers pruned", StringComparison.Ordinal));
            var bytes = await cluster.ExecAsync("sh", "-c", $"find {ImageContract.Current.LayerStoreDirectory}/blobs -type f -printf '%s\\n' | awk '{{ s += $1 }} END {{ print s + 0 }}'");
            Assert.True(long.Parse(bytes.StandardOutput.Trim(), System.Globalization.CultureInfo.InvariantCulture) <= settings.LimitBytes, bytes.StandardOutput);
        }

        // The shared ldconfig layer and the newer image's random one stayed; the older one's went, so a new cluster sends
        // that one again (as the newer image's push sent only its own random layer).
        await using var next = await StartAsync("next", settings);
        var reference = await next.PushImageAsync(older, cancellationToken: Ct);
        Assert.Equal(2, Messages.Count(l => l.Contains("sent 1 of 2 layers", StringComparison.Ordinal)));
        var run = await next.ExecAsync("docker", "run", "--rm", reference);
        Assert.True(run.Succeeded, run.FirstErrorLine);
    }

    [Fact]
    public async Task A_store_past_2_GiB_is_still_pruned_to_its_limit()
    {
        var image = await TwoLayerImageAsync("large");
        // The default limit is 10 GB: sums past 2^31 bytes must stay whole numbers for the limit's comparison.
        var settings = new LayerStoreSettings { Volume = _volume, LimitBytes = 5_000_000_000 };
        await using var cluster = await StartAsync("large", settings);
        var directory = ImageContract.Current.LayerStoreDirectory;
        var stale = new string('f', 64);
        var made = await cluster.ExecAsync("sh", "-c", $"mkdir -p {directory}/unpacked/{stale} {directory}/unpacked-sizes && echo 6000000000 > {directory}/unpacked-sizes/{stale} && touch -d '2 hours ago' {directory}/unpacked-sizes/{stale}");
        Assert.True(made.Succeeded, made.FirstErrorLine);

        await cluster.PushImageAsync(image, cancellationToken: Ct);

        Assert.Contains(Messages, l => l.Contains("least recently used layers pruned", StringComparison.Ordinal));
        var left = await cluster.ExecAsync("sh", "-c", $"ls -A {directory}/unpacked {directory}/unpacked-sizes");
        Assert.DoesNotContain(stale, left.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Turned_off_no_store_is_mounted_and_the_push_sends_everything()
    {
        var image = await TwoLayerImageAsync("off");
        await using var cluster = await StartAsync("off", new LayerStoreSettings { Enabled = false, Volume = _volume });
        var reference = await cluster.PushImageAsync(image, cancellationToken: Ct);
        Assert.DoesNotContain(Messages, l => l.Contains("layer store", StringComparison.Ordinal));
        var run = await cluster.ExecAsync("docker", "run", "--rm", reference);
        Assert.True(run.Succeeded, run.FirstErrorLine);
        await Assert.ThrowsAsync<DockerApiException>(() => _session.Docker.Volumes.InspectAsync(_volume, Ct));
    }

    private Task<KubeDindCluster> StartAsync(string what, LayerStoreSettings store) =>
        _session.StartClusterAsync(ClusterTestSupport.ComposeSettings(what) with { LayerStore = store }, Ct);

    /// <summary>A runnable image of two layers: Debian's static ldconfig, and ~3 MB of random data unique to this image.</summary>
    private async Task<string> TwoLayerImageAsync(string what)
    {
        var tag = ClusterTestSupport.UniqueName(what) + ":1";
        var baseImage = await new BaseImage(_session.Docker, _session.Log).EnsureAsync(Ct);
        var context = new BuildContext().AddText(
            "Dockerfile",
            $"FROM {baseImage} AS source\nRUN head -c 3M /dev/urandom > /random.bin\nFROM scratch\nCOPY --from=source /sbin/ldconfig /ldconfig\n"
            + $"COPY --from=source /random.bin /random.bin\nLABEL kdt.marker=\"{Guid.NewGuid():N}\"\nENTRYPOINT [\"/ldconfig\", \"--version\"]\n");
        await new ImageStore(_session.Docker, _session.Log).BuildAsync(context, tag, new Dictionary<string, string>(), new Dictionary<string, string>(), Ct);
        _images.Add(tag);
        return tag;
    }
}
