using Docker.DotNet;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Images;

namespace KubeDind.Testing.Tests;

/// <summary>
/// The fixture's whole life on a real engine with a compose-mode cluster (no k3s needed, so it runs in CI):
/// started once for the collection, an image built from a context and pushed, then removed when disposed.
/// </summary>
public sealed class ComposeCluster() : KubeDindFixture(new KubeDindFixtureSettings
{
    Cluster = new ClusterSettings
    {
        Name = "kdt-fixture-" + Guid.NewGuid().ToString("N")[..8],
        Kubernetes = false,
        KubeconfigDirectory = Path.Combine(Path.GetTempPath(), "kdt-fixture-kubeconfigs"),
    },
    Images = [new KubeDindImage(ImageTag, ContextDirectory)],
})
{
    public static readonly string ImageTag = "kdt-fixture-image:" + Guid.NewGuid().ToString("N")[..8];

    private static readonly string ContextDirectory = Path.Combine(Path.GetTempPath(), "kdt-fixture-context-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>Writes the build context the image is built from, as a test would publish its app first.</summary>
    protected override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(ContextDirectory);
        await File.WriteAllTextAsync(Path.Combine(ContextDirectory, "hello.txt"), "hello\n", cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(ContextDirectory, "Dockerfile"), "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nCOPY hello.txt /hello.txt\n", cancellationToken);
    }
}

[CollectionDefinition(nameof(ComposeClusterCollection))]
public sealed class ComposeClusterCollection : ICollectionFixture<ComposeCluster>;

[Collection(nameof(ComposeClusterCollection))]
public sealed class ComposeFixtureTests(ComposeCluster fixture)
{
    [Fact]
    public async Task The_cluster_runs_and_the_image_was_built_and_pushed_into_it()
    {
        Assert.Null(fixture.SkipReason);
        var reference = fixture.Images[ComposeCluster.ImageTag];
        Assert.StartsWith("localhost:5000/kdt-fixture-image:", reference);

        using var http = new HttpClient();
        var tags = await http.GetStringAsync($"http://{fixture.Cluster.RegistryHostEndpoint}/v2/kdt-fixture-image/tags/list", TestContext.Current.CancellationToken);
        Assert.Contains(ComposeCluster.ImageTag.Split(':')[1], tags);

    }

    [Fact]
    public void A_service_not_opened_at_start_is_named_with_how_to_open_it()
    {
        var error = Assert.Throws<InvalidOperationException>(() => fixture.ServiceUrl("web"));

        Assert.Equal("service default/web:http was not opened at start; add new FixtureService(\"web\", \"http\", \"default\") to KubeDindFixtureSettings.Services, or call OpenServiceAsync.", error.Message);
    }
}

// In the collection of ComposeCluster: both build and push the same tag, and this class deletes it at the end.
[Collection(nameof(ComposeClusterCollection))]
public sealed class FixtureLifecycleTests
{
    [Fact]
    public async Task Disposing_the_fixture_removes_its_cluster()
    {
        var fixture = new ComposeCluster();
        await fixture.InitializeAsync();
        var id = fixture.Cluster.ContainerId;

        // Its image is built as Cake and Nuke build one: an app image is not a KubeDind resource (Sweep goes by these labels).
        using var engine = await DockerEngine.ConnectAsync(cancellationToken: TestContext.Current.CancellationToken);
        var labels = (await engine.Images.InspectImageAsync(ComposeCluster.ImageTag, TestContext.Current.CancellationToken)).Config.Labels ?? new Dictionary<string, string>();
        Assert.DoesNotContain(KubeDindLabels.Role, labels.Keys);
        Assert.DoesNotContain(KubeDindLabels.RunId, labels.Keys);

        await fixture.DisposeAsync();

        using var docker = await DockerEngine.ConnectAsync(cancellationToken: TestContext.Current.CancellationToken);
        await Assert.ThrowsAsync<DockerContainerNotFoundException>(() => docker.Containers.InspectContainerAsync(id, TestContext.Current.CancellationToken));
        await new global::KubeDind.Docker.ImageStore(docker, global::KubeDind.Logging.NullKubeDindLog.Instance).RemoveAsync(ComposeCluster.ImageTag, force: true, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_fixture_that_cannot_run_here_starts_nothing_and_keeps_the_reason()
    {
        // (Touching fixture.Cluster now would report this test itself as skipped: xunit records Assert.Skip even when caught.)
        var fixture = new KubeDindFixture(new KubeDindFixtureSettings { SkipWhen = _ => "no k3s here (test)" });
        await fixture.InitializeAsync();

        Assert.Equal("no k3s here (test)", fixture.SkipReason);
        Assert.DoesNotContain(fixture, KubeDindFixture.Started);
        Assert.Contains(fixture.Log.Lines, l => l.EndsWith("KubeDind fixture skipped: no k3s here (test)", StringComparison.Ordinal));
        await fixture.DisposeAsync();
    }

    [Fact]
    public void The_default_skip_rule_asks_for_a_k3s_binary_only_when_Kubernetes_has_none()
    {
        var kubernetes = new KubeDindFixtureSettings();
        var withBinary = kubernetes with { Cluster = kubernetes.Cluster with { ImageBuild = new ClusterImageSettings { K3sBinary = "/opt/k3s" } } };
        var compose = kubernetes with { Cluster = kubernetes.Cluster with { Kubernetes = false } };

        Assert.Null(KubeDindFixtureSettings.DefaultSkipWhen(withBinary));
        Assert.Null(KubeDindFixtureSettings.DefaultSkipWhen(compose));
        if (ClusterImage.K3sBinaryFromEnvironment() is null)
        {
            Assert.Equal("no k3s binary: set KUBEDIND_K3S_BINARY to a k3s v1.21+ binary to run the Kubernetes tests (the pinned k3s v1.33.7+k3s1 cannot be downloaded here either)", KubeDindFixtureSettings.DefaultSkipWhen(kubernetes));
        }
        else
        {
            Assert.Null(KubeDindFixtureSettings.DefaultSkipWhen(kubernetes));
        }
    }
}
