using KubeDind.Cluster;

namespace KubeDind.Tests.Cluster;

/// <summary>The push's layer-store clause: what was sent, what was already there, what pruning removed, and what is unpacked.</summary>
public sealed class LayerStorePushTests
{
    private static readonly LayerStoreSeed TwoSeeded = new([new StoredLayer("sha256:a", "sha256:1", 100_000_000), new StoredLayer("sha256:b", "sha256:2", 29_100_000)], Unpacked: 0);

    [Fact]
    public void Says_how_much_was_sent_and_how_much_the_store_already_had()
    {
        var push = new LayerStorePush(3, TwoSeeded, new LayerStoreKeep(Layers: 3, Bytes: 150_000_000, StoredBytes: 20_900_000, StoreBytes: 1_250_300_000, PrunedBytes: 0));

        Assert.Equal("sent 1 of 3 layers (20.9 MB), 2 (129.1 MB) were already in the layer store (now 1250.3 MB)", push.Summary());
    }

    [Fact]
    public void Names_what_pruning_removed()
    {
        var push = new LayerStorePush(1, new LayerStoreSeed([], Unpacked: 0), new LayerStoreKeep(1, 5_000_000, 5_000_000, 9_000_000, PrunedBytes: 3_000_000));

        Assert.EndsWith("(now 9 MB, 3 MB of least recently used layers pruned)", push.Summary(), StringComparison.Ordinal);
    }

    [Fact]
    public void With_every_layer_in_the_store_says_nothing_was_sent()
    {
        Assert.Equal("sent 0 of 2 layers, all 2 (129.1 MB) were already in the layer store", new LayerStorePush(2, TwoSeeded, null).Summary());
    }

    [Fact]
    public void When_storing_failed_says_only_what_was_already_there()
    {
        Assert.Equal("2 of 3 layers (129.1 MB) were already in the layer store", new LayerStorePush(3, TwoSeeded, null).Summary());
    }

    [Fact]
    public void Says_how_many_layers_the_clusters_containerd_has_unpacked_from_the_store()
    {
        var seeded = TwoSeeded with { Unpacked = 2 };

        Assert.Equal("sent 0 of 2 layers, all 2 (129.1 MB) were already in the layer store; 2 of 2 layers already unpacked for the cluster's containerd", new LayerStorePush(2, seeded, null).Summary());
    }
}
