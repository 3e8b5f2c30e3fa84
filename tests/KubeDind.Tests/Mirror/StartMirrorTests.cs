using System.Net;
using System.Net.Sockets;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Mirror;
using KubeDind.Waiting;

namespace KubeDind.Tests.Mirror;

/// <summary>
/// StartMirror against real registries on the shared engine: local registries stand in for the upstreams
/// (one for quay.io traffic, one for ghcr.io), so "the upstream is gone" is a stopped container.
/// </summary>
[Collection(MirrorCollection.Name)]
public sealed class StartMirrorTests
{
    private readonly MirrorFixture _fixture;

    public StartMirrorTests(MirrorFixture fixture) => _fixture = fixture;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private KubeDindSession Session => _fixture.Session;

    [Fact]
    public async Task Mirrors_each_registry_from_its_own_upstream_and_serves_from_its_cache_when_the_upstreams_are_gone()
    {
        await using var resources = new TestResources(_fixture);
        var (quayUpstream, quayRepository, quayPushed) = await resources.StartUpstreamWithTinyImageAsync();
        var (ghcrUpstream, ghcrRepository, ghcrPushed) = await resources.StartUpstreamWithTinyImageAsync();
        await resources.RemoveImageAsync(quayPushed);
        await resources.RemoveImageAsync(ghcrPushed);
        var name = MirrorFixture.UniqueName("multi");
        resources.Mirror(name);
        var settings = new MirrorSettings { Name = name }.WithOnly(
            new MirrorRegistry("quay.io", $"http://{quayUpstream}:5000"),
            new MirrorRegistry("ghcr.io", $"http://{ghcrUpstream}:5000"));

        var mirror = await Session.StartMirrorAsync(settings, Token);

        Assert.Equal(["quay.io", "ghcr.io"], mirror.Registries.Select(r => r.Registry));
        var quay = mirror.Find("quay.io")!;
        var ghcr = mirror.Find("ghcr.io")!;
        Assert.Equal($"{name}-quay-io", quay.Name);
        Assert.Equal($"http://{name}-quay-io:5000", quay.NetworkUrl);
        Assert.StartsWith("http://127.0.0.1:", quay.HostUrl, StringComparison.Ordinal);
        Assert.NotEqual(quay.HostUrl, ghcr.HostUrl);
        Assert.Equal("kubedind", mirror.Network);
        Assert.Equal([quay.NetworkUrl], mirror.RegistryMirrors["quay.io"]);
        Assert.Equal([ghcr.NetworkUrl], mirror.RegistryMirrors["ghcr.io"]);
        Assert.All(mirror.Registries, r => Assert.False(r.CacheOnly || r.Reused));

        var viaQuay = $"{new Uri(quay.HostUrl).Authority}/{quayRepository}:1";
        var viaGhcr = $"{new Uri(ghcr.HostUrl).Authority}/{ghcrRepository}:1";
        Assert.Null(await resources.PullAsync(viaQuay));
        Assert.Null(await resources.PullAsync(viaGhcr));

        // The tiny image is two blobs (its layer and its config), both fetched from the upstream on the first pull.
        var first = await UsageWhenAsync(mirror, mirror.StartedAt, u => u.Find("quay.io")!.BlobsFromUpstream == 2 && u.Find("ghcr.io")!.BlobsFromUpstream == 2);
        Assert.Equal(0, first.BytesFromCache);
        Assert.True(first.BytesFromUpstream > 0);

        await _fixture.Docker.Containers.StopContainerAsync(quayUpstream, new ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Token);
        await _fixture.Docker.Containers.StopContainerAsync(ghcrUpstream, new ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Token);
        await resources.RemoveImageAsync(viaQuay);
        await resources.RemoveImageAsync(viaGhcr);
        var secondRun = DateTimeOffset.UtcNow;

        Assert.Null(await resources.PullAsync(viaQuay));
        Assert.Null(await resources.PullAsync(viaGhcr));

        var second = await UsageWhenAsync(mirror, secondRun, u => u.Find("quay.io")!.BlobsFromCache == 2 && u.Find("ghcr.io")!.BlobsFromCache == 2);
        Assert.Equal(0, second.BytesFromUpstream);
        Assert.Equal(first.BytesFromUpstream, second.BytesFromCache);
        TestContext.Current.TestOutputHelper?.WriteLine($"first run: {first}; second run: {second}");
    }

    [Fact]
    public async Task Starts_cache_only_when_the_upstream_is_down_serving_what_it_holds_and_naming_what_it_does_not()
    {
        await using var resources = new TestResources(_fixture);
        var (upstream, repository, pushed) = await resources.StartUpstreamWithTinyImageAsync();
        var upstreamPort = new Uri($"http://{pushed}").Port;
        var uncachedRepository = $"kdt/uncached-{Guid.NewGuid().ToString("N")[..8]}";
        var uncachedPushed = $"127.0.0.1:{upstreamPort}/{uncachedRepository}:1";
        await resources.ImportTinyImageAsync(uncachedPushed);
        await resources.PushAsync(uncachedPushed);
        await resources.RemoveImageAsync(pushed);
        await resources.RemoveImageAsync(uncachedPushed);

        var name = MirrorFixture.UniqueName("offline");
        resources.Mirror(name);
        var settings = new MirrorSettings { Name = name }.WithOnly(new MirrorRegistry("quay.io", $"http://{upstream}:5000"));
        var online = await Session.StartMirrorAsync(settings, Token);
        var cached = $"{new Uri(online.Registries[0].HostUrl).Authority}/{repository}:1";
        Assert.Null(await resources.PullAsync(cached));
        await resources.RemoveImageAsync(cached);

        // The host goes offline and the mirror's container is lost; the next build starts the mirror again.
        await _fixture.Docker.Containers.StopContainerAsync(upstream, new ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Token);
        await _fixture.Docker.Containers.KillContainerAsync(online.Registries[0].ContainerId, new ContainerKillParameters(), Token);
        await _fixture.Docker.Containers.RemoveContainerAsync(online.Registries[0].ContainerId, new ContainerRemoveParameters { Force = true }, Token);
        var log = new TestLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Token);
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var offline = await session.StartMirrorAsync(settings, Token);

        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        var registry = Assert.Single(offline.Registries);
        Assert.True(registry.CacheOnly);
        Assert.Equal([registry], offline.CacheOnly);
        var warning = Assert.Single(log.Lines, l => l.Level == KubeDindLogLevel.Warning).Message;
        Assert.Contains("quay.io", warning, StringComparison.Ordinal);
        Assert.Contains("cache only", warning, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', warning);

        var throughOffline = $"{new Uri(registry.HostUrl).Authority}/{repository}:1";
        Assert.Null(await resources.PullAsync(throughOffline));
        var refused = await resources.PullAsync($"{new Uri(registry.HostUrl).Authority}/{uncachedRepository}:1");
        Assert.NotNull(refused);
        Assert.Contains("manifest unknown", refused, StringComparison.Ordinal);

        var usage = await offline.ReadUsageAsync(cancellationToken: Token);
        var line = Assert.Single(usage.NotServedLines());
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        Assert.StartsWith($"quay.io/{uncachedRepository}:1: ", line, StringComparison.Ordinal);
        Assert.Contains("cache only", line, StringComparison.Ordinal);
        Assert.Contains($"http://{upstream}:5000", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);

        // A running cache-only mirror is kept while the upstream stays away ...
        var stillOffline = await session.StartMirrorAsync(settings, Token);
        Assert.True(stillOffline.Registries[0].CacheOnly && stillOffline.Registries[0].Reused);
        Assert.Equal(registry.ContainerId, stillOffline.Registries[0].ContainerId);

        // ... and becomes a pull-through cache again once the upstream answers.
        await _fixture.Docker.Containers.StartContainerAsync(upstream, new ContainerStartParameters(), Token);
        // "Answers" is the rule: wait until the restarted upstream serves /v2/ before the next build starts the mirror.
        await new ReadinessWaiter(session.Log).WaitAsync($"upstream {upstream}", [new RegistryApiGate($"http://127.0.0.1:{upstreamPort}")], TimeSpan.FromSeconds(30), null, Token);
        var back = await session.StartMirrorAsync(settings, Token);
        Assert.False(back.Registries[0].CacheOnly);
        Assert.Equal(registry.HostUrl, back.Registries[0].HostUrl);
        Assert.Null(await resources.PullAsync($"{new Uri(back.Registries[0].HostUrl).Authority}/{uncachedRepository}:1"));
    }

    [Fact]
    public async Task Starts_cache_only_within_seconds_when_the_upstream_never_answered()
    {
        await using var resources = new TestResources(_fixture);
        var name = MirrorFixture.UniqueName("noup");
        resources.Mirror(name);
        var upstream = $"http://{MirrorFixture.UniqueName("nowhere")}.invalid:5000";

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var mirror = await Session.StartMirrorAsync(
            new MirrorSettings { Name = name, ReadinessTimeout = TimeSpan.FromSeconds(60) }.WithOnly(new MirrorRegistry("gcr.io", upstream)), Token);

        // The registry in proxy mode exits at once; the cache-only one takes over, not at the readiness timeout.
        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.True(mirror.Registries[0].CacheOnly);
        var container = await _fixture.Docker.Containers.InspectContainerAsync(mirror.Registries[0].ContainerId, Token);
        Assert.True(container.State.Running);
        Assert.DoesNotContain(container.Config.Env, e => e.StartsWith(MirrorImage.ProxyRemoteUrlVariable, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reuses_a_running_mirror_and_keeps_its_cache_through_changed_settings_and_a_killed_container()
    {
        await using var resources = new TestResources(_fixture);
        var (upstream, repository, pushed) = await resources.StartUpstreamWithTinyImageAsync();
        await resources.RemoveImageAsync(pushed);

        var name = MirrorFixture.UniqueName("reuse");
        resources.Mirror(name);
        var registry = new MirrorRegistry("docker.io", $"http://{upstream}:5000");
        var settings = new MirrorSettings { Name = name }.WithOnly(registry);
        var cacheVolume = settings.CacheVolume(registry);
        var first = (await Session.StartMirrorAsync(settings, Token)).Registries[0];
        var firstStarted = (await _fixture.Docker.Containers.InspectContainerAsync(first.ContainerId, Token)).State.StartedAt;
        var throughFirst = $"{new Uri(first.HostUrl).Authority}/{repository}:1";
        Assert.Null(await resources.PullAsync(throughFirst));
        await resources.RemoveImageAsync(throughFirst);
        var marker = Guid.NewGuid().ToString("N");
        var write = await ContainerExec.RunAsync(_fixture.Docker, first.ContainerId, ["sh", "-c", $"echo {marker} > {MirrorImage.StoragePath}/kdt-marker"], cancellationToken: Token);
        Assert.True(write.Succeeded, write.FirstErrorLine);
        var cache = await _fixture.Docker.Volumes.InspectAsync(cacheVolume, Token);
        var volumeCreated = cache.CreatedAt;

        // The cache serves every later run: it is KubeDind's, but not this run's, so a check for what a run left behind never counts it.
        Assert.Equal(StartMirror.CacheRole, cache.Labels[KubeDindLabels.Role]);
        Assert.DoesNotContain(KubeDindLabels.RunId, cache.Labels.Keys);

        var second = (await Session.StartMirrorAsync(settings, Token)).Registries[0];

        Assert.True(second.Reused);
        Assert.Equal(first.ContainerId, second.ContainerId);
        Assert.Equal(first.HostUrl, second.HostUrl);
        Assert.Equal(firstStarted, (await _fixture.Docker.Containers.InspectContainerAsync(second.ContainerId, Token)).State.StartedAt);

        var newPort = Networking.HostPorts.FindFree();
        var changed = (await Session.StartMirrorAsync(settings.WithRegistry(registry with { HostPort = newPort }), Token)).Registries[0];

        Assert.False(changed.Reused);
        Assert.Equal($"http://127.0.0.1:{newPort}", changed.HostUrl);
        Assert.NotEqual(first.ContainerId, changed.ContainerId);
        Assert.False(await resources.ContainerExistsAsync(first.ContainerId));
        Assert.Equal(volumeCreated, (await _fixture.Docker.Volumes.InspectAsync(cacheVolume, Token)).CreatedAt);
        Assert.Equal(marker, await ReadMarkerAsync(changed.ContainerId));

        // The container is killed and removed, and the upstream is gone: the cache still serves.
        await _fixture.Docker.Containers.StopContainerAsync(upstream, new ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Token);
        await _fixture.Docker.Containers.KillContainerAsync(changed.ContainerId, new ContainerKillParameters(), Token);
        await _fixture.Docker.Containers.RemoveContainerAsync(changed.ContainerId, new ContainerRemoveParameters { Force = true }, Token);
        var afterKill = (await Session.StartMirrorAsync(settings, Token)).Registries[0];
        Assert.True(afterKill.CacheOnly);
        Assert.Equal(marker, await ReadMarkerAsync(afterKill.ContainerId));
        Assert.Null(await resources.PullAsync($"{new Uri(afterKill.HostUrl).Authority}/{repository}:1"));
        Assert.Equal(volumeCreated, (await _fixture.Docker.Volumes.InspectAsync(cacheVolume, Token)).CreatedAt);

        var stopped = await Session.StopMirrorAsync(name, removeCache: false, Token);
        Assert.True(stopped.ContainerRemoved);
        Assert.False(stopped.CacheRemoved);
        Assert.Equal([cacheVolume], stopped.CacheVolumes);
        Assert.False(await resources.ContainerExistsAsync(afterKill.Name));
        Assert.Equal(volumeCreated, (await _fixture.Docker.Volumes.InspectAsync(cacheVolume, Token)).CreatedAt);

        var removed = await Session.StopMirrorAsync(name, removeCache: true, Token);
        Assert.True(removed.CacheRemoved);
        await Assert.ThrowsAnyAsync<global::Docker.DotNet.DockerApiException>(() => _fixture.Docker.Volumes.InspectAsync(cacheVolume, Token));
    }

    [Fact]
    public async Task Puts_upstream_credentials_from_the_environment_in_the_registry_config_only()
    {
        const string user = "kdt-user";
        const string password = "kdt-secret-pass";
        await using var resources = new TestResources(_fixture);
        var (upstream, _) = await resources.StartUpstreamRegistryAsync();

        // A host of its own, so the variables cannot reach another test's mirror.
        var host = $"{MirrorFixture.UniqueName("private")}.example";
        var registry = new MirrorRegistry(host, $"http://{upstream}:5000");
        var log = new TestLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Token);
        var name = MirrorFixture.UniqueName("creds");
        resources.Mirror(name);
        Environment.SetEnvironmentVariable($"{registry.CredentialsVariablePrefix}_USERNAME", user);
        Environment.SetEnvironmentVariable($"{registry.CredentialsVariablePrefix}_TOKEN", password);
        KubeDindMirror mirror;
        try
        {
            mirror = await session.StartMirrorAsync(new MirrorSettings { Name = name }.WithOnly(registry), Token);
        }
        finally
        {
            Environment.SetEnvironmentVariable($"{registry.CredentialsVariablePrefix}_USERNAME", null);
            Environment.SetEnvironmentVariable($"{registry.CredentialsVariablePrefix}_TOKEN", null);
        }

        // registry 2.8 reads them as proxy.username / proxy.password; they exist nowhere else.
        var container = await _fixture.Docker.Containers.InspectContainerAsync(mirror.Registries[0].ContainerId, Token);
        Assert.Contains($"{MirrorImage.ProxyUsernameVariable}={user}", container.Config.Env);
        Assert.Contains($"{MirrorImage.ProxyPasswordVariable}={password}", container.Config.Env);
        Assert.DoesNotContain(container.Config.Labels.Values, v => v.Contains(password, StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Message.Contains($"{registry.CredentialsVariablePrefix}_TOKEN", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Lines, l => l.Message.Contains(password, StringComparison.Ordinal));
        Assert.DoesNotContain(password, mirror.ToString(), StringComparison.Ordinal);
        var logs = await ContainerLogs.TailAsync(_fixture.Docker, mirror.Registries[0].ContainerId, 1000, Token);
        Assert.DoesNotContain(password, logs, StringComparison.Ordinal);

        // A cache-only mirror has no upstream to log in to: its configuration holds no credentials.
        await _fixture.Docker.Containers.StopContainerAsync(upstream, new ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Token);
        await _fixture.Docker.Containers.RemoveContainerAsync(mirror.Registries[0].ContainerId, new ContainerRemoveParameters { Force = true }, Token);
        var offline = await session.StartMirrorAsync(new MirrorSettings { Name = name }.WithOnly(registry with { Credentials = new MirrorCredentials(user, password) }), Token);
        Assert.True(offline.Registries[0].CacheOnly);
        var cacheOnly = await _fixture.Docker.Containers.InspectContainerAsync(offline.Registries[0].ContainerId, Token);
        Assert.DoesNotContain(cacheOnly.Config.Env, e => e.Contains(password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refuses_a_container_with_its_name_that_KubeDind_did_not_create_and_leaves_it_alone()
    {
        await using var resources = new TestResources(_fixture);
        var name = MirrorFixture.UniqueName("clash");
        var registry = new MirrorRegistry("docker.io", MirrorSettings.DockerHub);
        var settings = new MirrorSettings { Name = name }.WithOnly(registry);
        var container = settings.ContainerName(registry);
        resources.Container(container);
        resources.Volume(settings.CacheVolume(registry));
        await _fixture.Docker.Containers.CreateContainerAsync(new CreateContainerParameters { Name = container, Image = _fixture.RegistryImage }, Token);

        var error = await Assert.ThrowsAsync<KubeDindException>(() => Session.StartMirrorAsync(settings, Token));

        Assert.Contains(container, error.Message, StringComparison.Ordinal);
        Assert.Contains("not created by KubeDind", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.True(await resources.ContainerExistsAsync(container));

        var stopError = await Assert.ThrowsAsync<KubeDindException>(() => Session.StopMirrorAsync(container, removeCache: true, Token));
        Assert.Contains(container, stopError.Message, StringComparison.Ordinal);
        Assert.True(await resources.ContainerExistsAsync(container));
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

        var error = await Assert.ThrowsAsync<KubeDindException>(() => Session.StartMirrorAsync(
            new MirrorSettings { Name = name }.WithOnly(new MirrorRegistry("docker.io", MirrorSettings.DockerHub) { HostPort = port }), Token));

        Assert.Contains($"port {port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("in use", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.False(await resources.ContainerExistsAsync($"{name}-docker-io"));
    }

    [Fact]
    public async Task A_first_start_that_fails_removes_the_empty_cache_volume_it_created_and_never_one_that_existed()
    {
        await using var resources = new TestResources(_fixture);
        var image = await NeverServingImageAsync(resources);
        var name = MirrorFixture.UniqueName("never");
        resources.Mirror(name);
        var registry = new MirrorRegistry("docker.io", MirrorSettings.DockerHub);
        var settings = new MirrorSettings { Name = name, Image = image, ReadinessTimeout = TimeSpan.FromSeconds(3) }.WithOnly(registry);

        var error = await Assert.ThrowsAsync<KubeDindException>(() => Session.StartMirrorAsync(settings, Token));

        Assert.Contains("/v2/", error.Message, StringComparison.Ordinal);
        Assert.Contains("not ready after 3s", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("kdt-never-serving", error.Details, StringComparison.Ordinal);
        Assert.False(await resources.ContainerExistsAsync(settings.ContainerName(registry)));
        await Assert.ThrowsAnyAsync<global::Docker.DotNet.DockerApiException>(() => _fixture.Docker.Volumes.InspectAsync(settings.CacheVolume(registry), Token));

        // A volume that was there before the call stays, whatever it holds.
        var existing = MirrorFixture.UniqueName("kept-cache");
        resources.Volume(existing);
        await _fixture.Docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = existing }, Token);
        var withExisting = new MirrorSettings { Name = name, Image = image, ReadinessTimeout = TimeSpan.FromSeconds(3) }.WithOnly(registry with { CacheVolume = existing });

        await Assert.ThrowsAsync<KubeDindException>(() => Session.StartMirrorAsync(withExisting, Token));

        await _fixture.Docker.Volumes.InspectAsync(existing, Token);
        Assert.False(await resources.ContainerExistsAsync(settings.ContainerName(registry)));
    }

    [Fact]
    public async Task A_restart_that_fails_leaves_nothing_restarting_and_keeps_the_cache()
    {
        await using var resources = new TestResources(_fixture);
        var (upstream, _) = await resources.StartUpstreamRegistryAsync();

        // The registry image, made to exit while a file on its cache volume says so: a restart that crashes.
        var image = $"kdt-mirror-breakable:{Guid.NewGuid().ToString("N")[..8]}";
        resources.Image(image);
        var context = new BuildContext().AddText(
            "Dockerfile",
            $"FROM {_fixture.RegistryImage}\n"
            + "ENTRYPOINT [\"sh\", \"-c\", \"if [ -f /var/lib/registry/kdt-break ]; then echo kdt-broken >&2; exit 3; fi; "
            + "if [ -x /usr/bin/docker-registry ]; then exec /usr/bin/docker-registry serve /etc/docker/registry/config.yml; fi; exec registry serve /etc/docker/registry/config.yml\"]\n"
            + "CMD []\n");
        await new ImageStore(_fixture.Docker, Session.Log).BuildAsync(context, image, new Dictionary<string, string>(), new Dictionary<string, string>(), Token);
        var name = MirrorFixture.UniqueName("restart");
        resources.Mirror(name);
        var registry = new MirrorRegistry("docker.io", $"http://{upstream}:5000");
        var settings = new MirrorSettings { Name = name, Image = image, ReadinessTimeout = TimeSpan.FromSeconds(20) }.WithOnly(registry);
        var first = (await Session.StartMirrorAsync(settings, Token)).Registries[0];
        var write = await ContainerExec.RunAsync(_fixture.Docker, first.ContainerId, ["sh", "-c", $"touch {MirrorImage.StoragePath}/kdt-break"], cancellationToken: Token);
        Assert.True(write.Succeeded, write.FirstErrorLine);
        await _fixture.Docker.Containers.StopContainerAsync(first.ContainerId, new ContainerStopParameters { WaitBeforeKillSeconds = 2 }, Token);

        var error = await Assert.ThrowsAsync<KubeDindException>(() => Session.StartMirrorAsync(settings, Token));

        Assert.Contains(first.Name, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("kdt-broken", error.Details, StringComparison.Ordinal);
        Assert.False(await resources.ContainerExistsAsync(first.Name), "a failed restart must not leave a container restarting");
        await _fixture.Docker.Volumes.InspectAsync(settings.CacheVolume(registry), Token);
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("ftp://registry.example.com")]
    [InlineData("registry.example.com")]
    [InlineData("https://user:secret@registry.example.com")]
    public async Task Rejects_a_malformed_upstream_URL_naming_it(string upstream)
    {
        var name = MirrorFixture.UniqueName("url");

        var error = await Assert.ThrowsAsync<KubeDindException>(() => Session.StartMirrorAsync(new MirrorSettings { Name = name }.WithOnly(new MirrorRegistry("docker.io", upstream)), Token));

        Assert.Contains($"'{upstream}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("UpstreamUrl", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        await using var resources = new TestResources(_fixture);
        Assert.False(await resources.ContainerExistsAsync($"{name}-docker-io"));
    }

    private async Task<string> ReadMarkerAsync(string containerId)
    {
        var read = await ContainerExec.RunAsync(_fixture.Docker, containerId, ["cat", $"{MirrorImage.StoragePath}/kdt-marker"], cancellationToken: Token);
        return read.StandardOutput.Trim();
    }

    private async Task<string> NeverServingImageAsync(TestResources resources)
    {
        var image = $"kdt-mirror-never:{Guid.NewGuid().ToString("N")[..8]}";
        resources.Image(image);
        var baseImage = await new BaseImage(_fixture.Docker, Session.Log).EnsureAsync(Token);
        var context = new BuildContext().AddText("Dockerfile", $"FROM {baseImage}\nCMD [\"sh\", \"-c\", \"echo kdt-never-serving; sleep 3600\"]\n");
        await new ImageStore(_fixture.Docker, Session.Log).BuildAsync(context, image, new Dictionary<string, string>(), new Dictionary<string, string>(), Token);
        return image;
    }

    /// <summary>The proxy logs a stored blob from a goroutine, just after serving it: poll the count briefly.</summary>
    private static async Task<MirrorUsage> UsageWhenAsync(KubeDindMirror mirror, DateTimeOffset since, Func<MirrorUsage, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var usage = await mirror.ReadUsageAsync(since, Token);
            if (done(usage) || DateTime.UtcNow > deadline)
            {
                Assert.True(done(usage), $"usage not as expected: {usage}");
                return usage;
            }

            await Task.Delay(300, Token);
        }
    }
}
