using System.Diagnostics;
using System.Formats.Tar;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;

namespace KubeDind.Tests.Image;

/// <summary>The kube-dind image without Kubernetes: dockerd, the :5000 registry, docker-compose, mirrors, shutdown.</summary>
[Collection(ImageCollection.Name)]
public sealed class ComposeModeTests
{
    private static readonly Dictionary<string, string> ComposeMode = new() { ["KUBEDIND_KUBERNETES"] = "false" };
    private readonly ImageFixture _fixture;
    private readonly ITestOutputHelper _output;

    public ComposeModeTests(ImageFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private IDockerClient Docker => _fixture.Session.Docker;

    [Fact]
    public async Task ImageLabelsStateTheK3sVersion()
    {
        var image = await Docker.Images.InspectImageAsync(_fixture.Image.Tag, Cancel);
        var expected = _fixture.Image.K3sVersion ?? "none";
        Assert.Equal(expected, image.Config.Labels[KubeDindLabels.K3sVersion]);
        Assert.Matches("^[0-9a-f]{64}$", image.Config.Labels["io.kubedind.context-hash"]);
        _output.WriteLine($"{_fixture.Image.Tag}: {_fixture.Image.Describe()}");
    }

    [Fact]
    public async Task ImagePushedFromTheHostRunsInsideAsLocalhost5000()
    {
        await using var cluster = await KubeDindTestContainer.StartAsync(_fixture.Session, _output, _fixture.Image.Tag, ComposeMode, Cancel);
        await cluster.WaitReadyAsync(TimeSpan.FromMinutes(2), Cancel);
        Assert.Contains("compose mode", (await cluster.ExecAsync(["kubectl", "version"], cancellationToken: Cancel)).StandardError, StringComparison.Ordinal);

        var hostTag = $"127.0.0.1:{cluster.RegistryPort}/kdt-image/pause:{cluster.Suffix}";
        await BuildPauseImageOnHostAsync(hostTag);
        try
        {
            var (repository, tag) = ImageReference.SplitTag(hostTag);
            var progress = new Progress<JSONMessage>(m => Assert.True(m.Error is null, m.Error?.Message));
            await Docker.Images.PushImageAsync(repository, new ImagePushParameters { Tag = tag }, new AuthConfig(), progress, Cancel);

            var output = await cluster.ShellAsync($"docker run --rm localhost:5000/kdt-image/pause:{cluster.Suffix} --version", Cancel);
            Assert.Contains("kubedind pause", output, StringComparison.Ordinal);
        }
        finally
        {
            await new ImageStore(Docker, _fixture.Session.Log).RemoveAsync(hostTag, force: true, CancellationToken.None);
        }
    }

    [Fact]
    public async Task DockerComposeUpStartsTwoServices()
    {
        await using var cluster = await KubeDindTestContainer.StartAsync(_fixture.Session, _output, _fixture.Image.Tag, ComposeMode, Cancel);
        await cluster.WaitReadyAsync(TimeSpan.FromMinutes(2), Cancel);
        await cluster.MakeToolsImageAsync("kdt/tools:1", Cancel);
        await cluster.ExecAsync(["docker", "load", "-i", "/usr/local/share/kubedind/pause-image.tar"], cancellationToken: Cancel);

        const string compose = """
            version: "2.4"
            services:
              web:
                image: kdt/tools:1
                ports: ["8080:5000"]
              sidecar:
                image: kubedind/pause:3.10
                depends_on: [web]
            """;
        await cluster.ShellAsync($"mkdir -p /tmp/app && cat > /tmp/app/docker-compose.yml <<'EOF'\n{compose}\nEOF", Cancel);
        await cluster.ShellAsync("cd /tmp/app && docker-compose up -d 2>&1", Cancel);
        var ps = await cluster.ShellAsync("cd /tmp/app && docker-compose ps", Cancel);
        Assert.Contains("app_web_1", ps, StringComparison.Ordinal);
        Assert.Contains("app_sidecar_1", ps, StringComparison.Ordinal);
        // The web service answers on its published port, and from the sidecar's network namespace via the service name.
        await cluster.ShellAsync("for i in $(seq 30); do curl -fsS -o /dev/null http://127.0.0.1:8080/v2/ && exit 0; sleep 0.5; done; exit 1", Cancel);
        await cluster.ShellAsync("docker run --rm --network app_default --entrypoint /usr/bin/curl kdt/tools:1 -fsS http://web:5000/v2/", Cancel);
        await cluster.ShellAsync("cd /tmp/app && docker-compose down 2>&1", Cancel);
    }

    [Fact]
    public async Task InnerDaemonPullsANotYetCachedImageThroughTheHostMirror()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var upstream = $"kdt-image-upstream-{suffix}";
        var mirror = $"kdt-image-mirror-{suffix}";
        var environment = new Dictionary<string, string>(ComposeMode) { ["KUBEDIND_REGISTRY_MIRRORS"] = $"http://{mirror}:5000" };
        await using var cluster = await KubeDindTestContainer.StartAsync(_fixture.Session, _output, _fixture.Image.Tag, environment, Cancel, async c =>
        {
            // Stand-ins made from this image's own docker-registry: a plain upstream, and the mirror in proxy mode in front of it.
            c.AddCompanion(await StartRegistryAsync(upstream, c.Network, publish: true, proxyTo: null));
            c.AddCompanion(await StartRegistryAsync(mirror, c.Network, publish: false, proxyTo: $"http://{upstream}:5000"));
        });
        await cluster.WaitReadyAsync(TimeSpan.FromMinutes(2), Cancel);

        var upstreamPort = await PublishedPortAsync(upstream);
        var hostTag = $"127.0.0.1:{upstreamPort}/kdt-image/mirrored:{suffix}";
        await BuildPauseImageOnHostAsync(hostTag);
        try
        {
            var (repository, tag) = ImageReference.SplitTag(hostTag);
            await Docker.Images.PushImageAsync(repository, new ImagePushParameters { Tag = tag }, new AuthConfig(), new Progress<JSONMessage>(), Cancel);
        }
        finally
        {
            await new ImageStore(Docker, _fixture.Session.Log).RemoveAsync(hostTag, force: true, CancellationToken.None);
        }

        // A Docker Hub name: the inner daemon asks its mirror first; Docker Hub itself is unreachable here.
        var info = await cluster.ShellAsync("docker info --format '{{json .RegistryConfig.Mirrors}}'", Cancel);
        Assert.Contains(mirror, info, StringComparison.Ordinal);
        await cluster.ShellAsync($"docker pull kdt-image/mirrored:{suffix} && docker run --rm kdt-image/mirrored:{suffix} --version", Cancel);
        var catalog = await cluster.ShellAsync($"curl -fsS http://{mirror}:5000/v2/_catalog", Cancel);
        Assert.Contains("kdt-image/mirrored", catalog, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SigtermStopsEverythingWithinTenSeconds()
    {
        await using var cluster = await KubeDindTestContainer.StartAsync(_fixture.Session, _output, _fixture.Image.Tag, ComposeMode, Cancel);
        await cluster.WaitReadyAsync(TimeSpan.FromMinutes(2), Cancel);
        // Something for dockerd to stop on the way out: two running containers.
        await cluster.ShellAsync("docker load -i /usr/local/share/kubedind/pause-image.tar >/dev/null && docker run -d kubedind/pause:3.10 && docker run -d kubedind/pause:3.10", Cancel);

        var watch = Stopwatch.StartNew();
        await Docker.Containers.StopContainerAsync(cluster.Id, new ContainerStopParameters { WaitBeforeKillSeconds = 15 }, Cancel);
        watch.Stop();
        var inspect = await Docker.Containers.InspectContainerAsync(cluster.Id, Cancel);
        var logs = await cluster.LogsAsync(Cancel);
        _output.WriteLine($"SIGTERM to exit: {watch.Elapsed.TotalSeconds:0.00}s (exit code {inspect.State.ExitCode})\n{logs}");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10.5), $"stopping took {watch.Elapsed.TotalSeconds:0.0}s");
        Assert.Equal(0, inspect.State.ExitCode);
        Assert.Contains("dockerd stopped", logs, StringComparison.Ordinal);
        Assert.True(logs.IndexOf("registry stopped", StringComparison.Ordinal) < logs.IndexOf("dockerd stopped", StringComparison.Ordinal), "registry must stop before dockerd");
    }

    [Fact]
    public async Task AskingForKubernetesWithoutK3sFailsReadinessForGood()
    {
        await using var cluster = await KubeDindTestContainer.StartAsync(_fixture.Session, _output, _fixture.ComposeImage.Tag, new Dictionary<string, string> { ["KUBEDIND_KUBERNETES"] = "true" }, Cancel);
        ExecResult result;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            result = await cluster.ExecAsync(["kubedind-ready"], cancellationToken: Cancel);
        }
        while (result.ExitCode == 1 && DateTime.UtcNow < deadline);

        _output.WriteLine(result.StandardOutput);
        Assert.Equal(2, result.ExitCode);
        var inner = KubeDind.Cluster.InnerReadiness.Parse(result, _fixture.ComposeImage.Tag);
        Assert.Equal(("failed", "starting"), (inner.Status, inner.Gate));
        Assert.StartsWith("kubernetes: KUBEDIND_KUBERNETES=true but this image has no k3s", inner.Reason, StringComparison.Ordinal);
    }

    /// <summary>Builds a one-file image on the host from the kube-dind image's own pause binary.</summary>
    private async Task BuildPauseImageOnHostAsync(string tag)
    {
        var pause = await ReadPauseBinaryAsync();
        var temp = Path.Combine(Path.GetTempPath(), $"kdt-image-pause-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(temp, pause, Cancel);
        try
        {
            var context = new BuildContext()
                .AddText("Dockerfile", "FROM scratch\nCOPY pause /pause\nENTRYPOINT [\"/pause\"]\n")
                .AddFile("pause", temp, (UnixFileMode)0b111_101_101);
            await new ImageStore(Docker, _fixture.Session.Log).BuildAsync(context, tag, new Dictionary<string, string>(), KubeDindLabels.ForResource("test-image", _fixture.Session.RunId), Cancel);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private async Task<byte[]> ReadPauseBinaryAsync()
    {
        var probe = await Docker.Containers.CreateContainerAsync(new CreateContainerParameters { Image = _fixture.Image.Tag, Labels = KubeDindLabels.ForResource("test-probe", _fixture.Session.RunId) }, Cancel);
        try
        {
            var archive = await Docker.Containers.GetArchiveFromContainerAsync(probe.ID, new GetArchiveFromContainerParameters { Path = "/usr/local/share/kubedind/pause-image.tar" }, false, Cancel);
            using var outer = new TarReader(archive.Stream);
            var imageTar = (await outer.GetNextEntryAsync(true, Cancel))!.DataStream!;
            using var image = new TarReader(imageTar);
            while (await image.GetNextEntryAsync(true, Cancel) is { } entry)
            {
                if (entry.Name.EndsWith("layer.tar", StringComparison.Ordinal))
                {
                    using var layer = new TarReader(entry.DataStream!);
                    var file = (await layer.GetNextEntryAsync(true, Cancel))!;
                    using var bytes = new MemoryStream();
                    await file.DataStream!.CopyToAsync(bytes, Cancel);
                    return bytes.ToArray();
                }
            }

            throw new InvalidOperationException("the pause image tar has no layer");
        }
        finally
        {
            await Docker.Containers.RemoveContainerAsync(probe.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
        }
    }

    private async Task<string> StartRegistryAsync(string name, string network, bool publish, string? proxyTo)
    {
        var environment = new List<string>();
        if (proxyTo is not null)
        {
            environment.Add($"REGISTRY_PROXY_REMOTEURL={proxyTo}");
        }

        var created = await Docker.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Image = _fixture.Image.Tag,
                Name = name,
                Entrypoint = ["/usr/bin/docker-registry", "serve", "/etc/kubedind/registry.yml"],
                Env = environment,
                Labels = KubeDindLabels.ForResource("test-registry", _fixture.Session.RunId),
                ExposedPorts = new Dictionary<string, EmptyStruct> { ["5000/tcp"] = default },
                HostConfig = new HostConfig
                {
                    NetworkMode = network,
                    PortBindings = publish ? new Dictionary<string, IList<PortBinding>> { ["5000/tcp"] = [new PortBinding { HostIP = "127.0.0.1", HostPort = string.Empty }] } : null,
                },
            },
            Cancel);
        await Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), Cancel);
        return created.ID;
    }

    private async Task<int> PublishedPortAsync(string container)
    {
        var inspect = await Docker.Containers.InspectContainerAsync(container, Cancel);
        return int.Parse(inspect.NetworkSettings.Ports["5000/tcp"][0].HostPort, System.Globalization.CultureInfo.InvariantCulture);
    }
}
