using System.Formats.Tar;
using System.Globalization;
using System.Net;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Mirror;
using KubeDind.Networking;
using KubeDind.Waiting;

namespace KubeDind.Tests.Mirror;

[CollectionDefinition(Name)]
public sealed class MirrorCollection : ICollectionFixture<MirrorFixture>
{
    public const string Name = "Mirror (real engine)";
}

/// <summary>
/// One engine session and one mirror image (registry:2 or the image/mirror/ build) for every mirror test,
/// plus helpers that create uniquely named test resources and remember them for cleanup.
/// </summary>
public sealed class MirrorFixture : IAsyncLifetime
{
    public KubeDindSession Session { get; private set; } = null!;

    /// <summary>The image a default StartMirror runs; also used for the stand-in upstream registry.</summary>
    public string RegistryImage { get; private set; } = null!;

    public IDockerClient Docker => Session.Docker;

    public async ValueTask InitializeAsync()
    {
        Session = await KubeDindSession.ConnectAsync(new TestLog(), cancellationToken: TestContext.Current.CancellationToken);
        RegistryImage = await new MirrorImage(Session).EnsureAsync(null, TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync()
    {
        Session?.Dispose();
        return ValueTask.CompletedTask;
    }

    public static string UniqueName(string what) => $"kdt-mirror-{what}-{Guid.NewGuid().ToString("N")[..8]}";
}

/// <summary>Routes KubeDind's log to the current test's output, keeping every line for tests that check what was logged.</summary>
public sealed class TestLog : IKubeDindLog
{
    private readonly List<(KubeDindLogLevel Level, string Message)> _lines = [];

    public IReadOnlyList<(KubeDindLogLevel Level, string Message)> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public void Write(KubeDindLogLevel level, string message)
    {
        lock (_lines)
        {
            _lines.Add((level, message));
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {level}: {message}");
    }
}

/// <summary>Everything one test creates, removed (with volumes) when the test ends, whatever happened.</summary>
public sealed class TestResources : IAsyncDisposable
{
    private readonly MirrorFixture _fixture;
    private readonly List<string> _containers = [];
    private readonly List<string> _volumes = [];
    private readonly List<string> _images = [];
    private readonly List<string> _mirrors = [];

    public TestResources(MirrorFixture fixture) => _fixture = fixture;

    private IDockerClient Docker => _fixture.Docker;

    public KubeDindSession Session => _fixture.Session;

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    public void Mirror(string name) => _mirrors.Add(name);

    public void Container(string nameOrId) => _containers.Add(nameOrId);

    public void Volume(string name) => _volumes.Add(name);

    public void Image(string name) => _images.Add(name);

    /// <summary>A plain (not proxying) registry on the kubedind network, published on a free 127.0.0.1 port.</summary>
    public async Task<(string Name, int Port)> StartUpstreamRegistryAsync()
    {
        var name = MirrorFixture.UniqueName("upstream");
        var port = HostPorts.FindFree();
        var networkId = await KubeDindNetwork.EnsureAsync(_fixture.Session, cancellationToken: Token);
        Container(name);
        await Docker.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Name = name,
                Image = _fixture.RegistryImage,
                Labels = KubeDindLabels.ForResource("test-upstream", _fixture.Session.RunId),
                ExposedPorts = new Dictionary<string, EmptyStruct> { ["5000/tcp"] = default },
                HostConfig = new HostConfig
                {
                    PortBindings = new Dictionary<string, IList<PortBinding>> { ["5000/tcp"] = [new PortBinding { HostIP = "127.0.0.1", HostPort = port.ToString(CultureInfo.InvariantCulture) }] },
                    NetworkMode = KubeDindNetwork.DefaultName,
                },
                NetworkingConfig = new NetworkingConfig
                {
                    EndpointsConfig = new Dictionary<string, EndpointSettings> { [KubeDindNetwork.DefaultName] = new EndpointSettings { NetworkID = networkId, Aliases = [name] } },
                },
            },
            Token);
        await Docker.Containers.StartContainerAsync(name, new ContainerStartParameters(), Token);
        await new ReadinessWaiter(_fixture.Session.Log).WaitAsync($"upstream {name}", [new RegistryApiGate($"http://127.0.0.1:{port}")], TimeSpan.FromSeconds(30), null, Token);
        return (name, port);
    }

    /// <summary>Imports a one-file image (unique content, so no layer is shared with anything) as <paramref name="reference"/>.</summary>
    public async Task ImportTinyImageAsync(string reference)
    {
        Image(reference);
        var tar = new MemoryStream();
        await using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var content = Encoding.UTF8.GetBytes($"kubedind mirror test {Guid.NewGuid()}\n");
            await writer.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "kdt-marker.txt") { DataStream = new MemoryStream(content) }, Token);
        }

        tar.Position = 0;
        var (repository, tag) = ImageReference.SplitTag(reference);
        var progress = new DockerProgress(_fixture.Session.Log, $"import {reference}");
        await Docker.Images.CreateImageAsync(new ImagesCreateParameters { FromSrc = "-", Repo = repository, Tag = tag }, tar, null, progress, Token);
        Assert.Null(progress.Error);
    }

    /// <summary>A stand-in upstream holding one tiny image: its container name, the image's repository, and the reference it was pushed as.</summary>
    public async Task<(string Upstream, string Repository, string Pushed)> StartUpstreamWithTinyImageAsync()
    {
        var (upstream, upstreamPort) = await StartUpstreamRegistryAsync();
        var repository = $"kdt/tiny-{Guid.NewGuid().ToString("N")[..8]}";
        var pushed = $"127.0.0.1:{upstreamPort}/{repository}:1";
        await ImportTinyImageAsync(pushed);
        await PushAsync(pushed);
        return (upstream, repository, pushed);
    }

    public async Task PushAsync(string reference)
    {
        var (repository, tag) = ImageReference.SplitTag(reference);
        var progress = new DockerProgress(_fixture.Session.Log, $"push {reference}");
        await Docker.Images.PushImageAsync(repository, new ImagePushParameters { Tag = tag }, new AuthConfig(), progress, Token);
        Assert.Null(progress.Error);
    }

    /// <summary>Pulls <paramref name="reference"/>; returns the engine's error, or null on success.</summary>
    public async Task<string?> PullAsync(string reference)
    {
        Image(reference);
        var (repository, tag) = ImageReference.SplitTag(reference);
        var progress = new DockerProgress(_fixture.Session.Log, $"pull {reference}");
        try
        {
            await Docker.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, (AuthConfig?)null, null, progress, Token);
        }
        catch (DockerApiException ex)
        {
            return ex.ResponseBody ?? ex.Message;
        }

        return progress.Error;
    }

    public async Task RemoveImageAsync(string reference)
    {
        try
        {
            await new ImageStore(Docker, _fixture.Session.Log).RemoveAsync(reference, force: true, Token);
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
        }
    }

    public async Task<bool> ContainerExistsAsync(string name)
    {
        try
        {
            await Docker.Containers.InspectContainerAsync(name, Token);
            return true;
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        var failures = new List<string>();
        async Task Try(string what, Func<Task> action)
        {
            try
            {
                await action();
            }
            catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
            }
            catch (Exception ex)
            {
                failures.Add($"{what}: {ex.Message}");
            }
        }

        foreach (var mirror in _mirrors)
        {
            await Try($"mirror {mirror}", () => _fixture.Session.StopMirrorAsync(mirror, removeCache: true, CancellationToken.None));
        }

        foreach (var container in _containers)
        {
            await Try($"container {container}", () => Docker.Containers.RemoveContainerAsync(container, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None));
        }

        foreach (var volume in _volumes)
        {
            await Try($"volume {volume}", () => Docker.Volumes.RemoveAsync(volume, true, CancellationToken.None));
        }

        foreach (var image in _images.Distinct())
        {
            await Try($"image {image}", () => new ImageStore(Docker, _fixture.Session.Log).RemoveAsync(image, force: true, CancellationToken.None));
        }

        // Reported, not thrown: throwing here would hide the test's own failure.
        foreach (var failure in failures)
        {
            _fixture.Session.Log.Error($"test cleanup failed: {failure}");
        }
    }
}
