using System.Net;
using System.Net.Sockets;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Mirror;

namespace KubeDind.Tests.Mirror;

[Collection(MirrorCollection.Name)]
public sealed class StartMirrorTests
{
    private readonly MirrorFixture _fixture;

    public StartMirrorTests(MirrorFixture fixture) => _fixture = fixture;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private KubeDindSession Session => _fixture.Session;

    [Fact]
    public async Task Pulls_through_the_upstream_and_then_serves_from_its_cache_when_the_upstream_is_gone()
    {
        await using var resources = new TestResources(_fixture);
        var (upstream, repository, pushed) = await resources.StartUpstreamWithTinyImageAsync();

        var name = MirrorFixture.UniqueName("pull");
        resources.Mirror(name);
        var mirror = await Session.StartMirrorAsync(new MirrorSettings { Name = name, UpstreamUrl = $"http://{upstream}:5000" }, Token);

        Assert.False(mirror.Reused);
        Assert.StartsWith("http://127.0.0.1:", mirror.HostUrl, StringComparison.Ordinal);
        Assert.Equal($"http://{name}:5000", mirror.NetworkUrl);
        Assert.Equal("kubedind", mirror.Network);

        var throughMirror = $"{new Uri(mirror.HostUrl).Authority}/{repository}:1";
        await resources.RemoveImageAsync(pushed);
        Assert.Null(await resources.PullAsync(throughMirror));

        await _fixture.Docker.Containers.StopContainerAsync(upstream, new ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Token);
        await resources.RemoveImageAsync(throughMirror);
        Assert.False(await new ImageStore(_fixture.Docker, Session.Log).ExistsAsync(throughMirror, Token));

        Assert.Null(await resources.PullAsync(throughMirror));
        Assert.True(await new ImageStore(_fixture.Docker, Session.Log).ExistsAsync(throughMirror, Token));
    }

    [Fact]
    public async Task Reuses_a_running_mirror_and_recreates_a_changed_one_keeping_its_cache()
    {
        await using var resources = new TestResources(_fixture);
        var (upstream, repository, pushed) = await resources.StartUpstreamWithTinyImageAsync();
        await resources.RemoveImageAsync(pushed);

        var name = MirrorFixture.UniqueName("reuse");
        resources.Mirror(name);
        var settings = new MirrorSettings { Name = name, UpstreamUrl = $"http://{upstream}:5000" };
        var first = await Session.StartMirrorAsync(settings, Token);
        var firstStarted = (await _fixture.Docker.Containers.InspectContainerAsync(first.ContainerId, Token)).State.StartedAt;
        var throughFirst = $"{new Uri(first.HostUrl).Authority}/{repository}:1";
        Assert.Null(await resources.PullAsync(throughFirst));
        await resources.RemoveImageAsync(throughFirst);
        var marker = Guid.NewGuid().ToString("N");
        var write = await ContainerExec.RunAsync(_fixture.Docker, first.ContainerId, ["sh", "-c", $"echo {marker} > {MirrorImage.StoragePath}/kdt-marker"], cancellationToken: Token);
        Assert.True(write.Succeeded, write.FirstErrorLine);
        var volumeCreated = (await _fixture.Docker.Volumes.InspectAsync(settings.CacheVolumeName, Token)).CreatedAt;

        var second = await Session.StartMirrorAsync(settings, Token);

        Assert.True(second.Reused);
        Assert.Equal(first.ContainerId, second.ContainerId);
        Assert.Equal(first.HostUrl, second.HostUrl);
        Assert.Equal(firstStarted, (await _fixture.Docker.Containers.InspectContainerAsync(second.ContainerId, Token)).State.StartedAt);

        var newPort = Networking.HostPorts.FindFree();
        var changed = await Session.StartMirrorAsync(settings with { HostPort = newPort }, Token);

        Assert.False(changed.Reused);
        Assert.Equal($"http://127.0.0.1:{newPort}", changed.HostUrl);
        Assert.NotEqual(first.ContainerId, changed.ContainerId);
        Assert.False(await resources.ContainerExistsAsync(first.ContainerId));
        Assert.Equal(volumeCreated, (await _fixture.Docker.Volumes.InspectAsync(settings.CacheVolumeName, Token)).CreatedAt);
        var read = await ContainerExec.RunAsync(_fixture.Docker, changed.ContainerId, ["cat", $"{MirrorImage.StoragePath}/kdt-marker"], cancellationToken: Token);
        Assert.Equal(marker, read.StandardOutput.Trim());

        await _fixture.Docker.Containers.StopContainerAsync(upstream, new ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Token);
        var throughChanged = $"{new Uri(changed.HostUrl).Authority}/{repository}:1";
        Assert.Null(await resources.PullAsync(throughChanged));

        var stopped = await Session.StopMirrorAsync(name, removeCache: false, Token);
        Assert.True(stopped.ContainerRemoved);
        Assert.False(stopped.CacheRemoved);
        Assert.False(await resources.ContainerExistsAsync(name));
        Assert.Equal(volumeCreated, (await _fixture.Docker.Volumes.InspectAsync(settings.CacheVolumeName, Token)).CreatedAt);

        var removed = await Session.StopMirrorAsync(name, removeCache: true, Token);
        Assert.True(removed.CacheRemoved);
        await Assert.ThrowsAnyAsync<global::Docker.DotNet.DockerApiException>(() => _fixture.Docker.Volumes.InspectAsync(settings.CacheVolumeName, Token));
    }

    [Fact]
    public async Task Refuses_a_container_with_its_name_that_KubeDind_did_not_create_and_leaves_it_alone()
    {
        await using var resources = new TestResources(_fixture);
        var name = MirrorFixture.UniqueName("clash");
        resources.Container(name);
        resources.Volume(MirrorSettings.DefaultCacheVolume(name));
        await _fixture.Docker.Containers.CreateContainerAsync(new CreateContainerParameters { Name = name, Image = _fixture.RegistryImage }, Token);

        var error = await Assert.ThrowsAsync<KubeDindException>(() => Session.StartMirrorAsync(new MirrorSettings { Name = name }, Token));

        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        Assert.Contains("not created by KubeDind", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.True(await resources.ContainerExistsAsync(name));

        var stopError = await Assert.ThrowsAsync<KubeDindException>(() => Session.StopMirrorAsync(name, removeCache: true, Token));
        Assert.Contains(name, stopError.Message, StringComparison.Ordinal);
        Assert.True(await resources.ContainerExistsAsync(name));
    }

    [Fact]
    public async Task Names_the_host_port_when_something_else_holds_it()
    {
        await using var resources = new TestResources(_fixture);
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var name = MirrorFixture.UniqueName("port");
        resources.Mirror(name);

        var error = await Assert.ThrowsAsync<KubeDindException>(() => Session.StartMirrorAsync(new MirrorSettings { Name = name, HostPort = port }, Token));

        Assert.Contains($"port {port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("in use", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.False(await resources.ContainerExistsAsync(name));
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("ftp://registry.example.com")]
    [InlineData("registry.example.com")]
    [InlineData("https://user:secret@registry.example.com")]
    public async Task Rejects_a_malformed_upstream_URL_naming_it(string upstream)
    {
        var name = MirrorFixture.UniqueName("url");

        var error = await Assert.ThrowsAsync<KubeDindException>(() => Session.StartMirrorAsync(new MirrorSettings { Name = name, UpstreamUrl = upstream }, Token));

        Assert.Contains($"'{upstream}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("UpstreamUrl", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        await using var resources = new TestResources(_fixture);
        Assert.False(await resources.ContainerExistsAsync(name));
    }

    [Fact]
    public async Task Gives_up_on_a_mirror_that_never_serves_naming_the_check_with_its_log_lines()
    {
        await using var resources = new TestResources(_fixture);
        var image = $"kdt-mirror-never:{Guid.NewGuid().ToString("N")[..8]}";
        resources.Image(image);
        var baseImage = await new BaseImage(_fixture.Docker, Session.Log).EnsureAsync(Token);
        var context = new BuildContext().AddText("Dockerfile", $"FROM {baseImage}\nCMD [\"sh\", \"-c\", \"echo kdt-never-serving; sleep 3600\"]\n");
        await new ImageStore(_fixture.Docker, Session.Log).BuildAsync(context, image, new Dictionary<string, string>(), new Dictionary<string, string>(), Token);
        var name = MirrorFixture.UniqueName("never");
        resources.Mirror(name);

        var error = await Assert.ThrowsAsync<KubeDindException>(() => Session.StartMirrorAsync(
            new MirrorSettings { Name = name, Image = image, ReadinessTimeout = TimeSpan.FromSeconds(3) }, Token));

        Assert.Contains("/v2/", error.Message, StringComparison.Ordinal);
        Assert.Contains("not ready after 3s", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("kdt-never-serving", error.Details, StringComparison.Ordinal);

        // It would restart forever; the cache volume stays.
        Assert.False(await resources.ContainerExistsAsync(name));
        await _fixture.Docker.Volumes.InspectAsync(MirrorSettings.DefaultCacheVolume(name), Token);
    }

    [Fact]
    public async Task Explains_a_registry_that_exits_because_its_upstream_does_not_answer()
    {
        await using var resources = new TestResources(_fixture);
        var name = MirrorFixture.UniqueName("noup");
        resources.Mirror(name);
        var upstream = $"http://{MirrorFixture.UniqueName("nowhere")}.invalid:5000";

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<MirrorUpstreamUnreachableException>(() => Session.StartMirrorAsync(
            new MirrorSettings { Name = name, UpstreamUrl = upstream, ReadinessTimeout = TimeSpan.FromSeconds(60) }, Token));

        // It gives up as soon as the registry exits, not at the readiness timeout.
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.Contains(upstream, error.Message, StringComparison.Ordinal);
        Assert.Contains("does not answer", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("panic", error.Details, StringComparison.Ordinal);
        Assert.False(await resources.ContainerExistsAsync(name));
    }
}
