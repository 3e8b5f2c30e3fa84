using KubeDind.Cluster;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// The push's layer-store clause (what was sent, what was already there, what pruning removed, what is being linked
/// unpacked), and the wait for those links before a deploy or job.
/// </summary>
public sealed class LayerStorePushTests
{
    private static readonly LayerStoreSeed TwoSeeded = new([new StoredLayer("sha256:a", "sha256:1", 100_000_000), new StoredLayer("sha256:b", "sha256:2", 29_100_000)], Linking: 0);

    [Fact]
    public void Says_how_much_was_sent_and_how_much_the_store_already_had()
    {
        var push = new LayerStorePush(3, TwoSeeded, new LayerStoreKeep(Layers: 3, Bytes: 150_000_000, StoredBytes: 20_900_000, StoreBytes: 1_250_300_000, PrunedBytes: 0));

        Assert.Equal("sent 1 of 3 layers (20.9 MB), 2 (129.1 MB) were already in the layer store (now 1250.3 MB)", push.Summary());
    }

    [Fact]
    public void Names_what_pruning_removed()
    {
        var push = new LayerStorePush(1, new LayerStoreSeed([], Linking: 0), new LayerStoreKeep(1, 5_000_000, 5_000_000, 9_000_000, PrunedBytes: 3_000_000));

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
    public void Says_how_many_layers_are_being_linked_unpacked_into_the_clusters_containerd()
    {
        var seeded = TwoSeeded with { Linking = 2 };

        Assert.Equal("sent 0 of 2 layers, all 2 (129.1 MB) were already in the layer store; linking 2 of 2 layers unpacked into the cluster's containerd in the background", new LayerStorePush(2, seeded, null).Summary());
    }

    [Fact]
    public void Reads_the_seeds_output()
    {
        var seeded = LayerStore.Parse<LayerStoreSeed>("""{"layers":[{"diffId":"sha256:a","digest":"sha256:1","bytes":5}],"linking":1}""", "seed");

        Assert.Equal(new StoredLayer("sha256:a", "sha256:1", 5), Assert.Single(seeded.Layers));
        Assert.Equal(1, seeded.Linking);
    }

    [Fact]
    public void The_wait_for_the_links_says_how_long_and_how_many_layers_are_unpacked()
    {
        var wait = LayerStore.Parse<LayerStoreLinkWait>("""{"waitedSeconds":0.4,"finished":true,"linked":7,"layers":8}""", "wait-link");

        Assert.Equal(new LayerStoreLinkWait(0.4, Finished: true, Linked: 7, Layers: 8), wait);
        Assert.Equal("waited 0.4s for the layer store to link the pushed images' unpacked layers: 7 of 8 layers already unpacked for the cluster's containerd", wait.Summary());
    }

    [Fact]
    public void A_wait_that_ran_out_says_the_pulls_unpack_the_rest()
    {
        var wait = new LayerStoreLinkWait(60.1, Finished: false, Linked: 0, Layers: 0);

        Assert.Equal("waited 60.1s for the layer store to link the pushed images' unpacked layers, and goes on without the rest (0 of 0 layers of the finished links unpacked; its pulls unpack what is not linked yet)", wait.Summary());
    }

    [Fact]
    public void Output_of_null_names_the_subcommand_and_what_to_do()
    {
        var error = Assert.Throws<KubeDindException>(() => LayerStore.Parse<LayerStoreLinkWait>("null", "wait-link"));

        Assert.Equal("kubedind-layers wait-link printed nothing; the cluster image is broken, rebuild it.", error.Message);
    }
}
