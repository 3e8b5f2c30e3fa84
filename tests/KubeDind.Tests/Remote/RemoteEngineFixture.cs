using System.Diagnostics;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Mirror;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Remote;

/// <summary>
/// A real remote Docker engine on this machine: a compose-mode KubeDind container (started by the core on the local
/// engine) whose inner dockerd also listens on tcp://0.0.0.0:2375 (KUBEDIND_DOCKERD_HOSTS), reached at its address on
/// the kubedind network, as a build container reaches GitLab's docker:dind service at tcp://docker:2375. Nothing can be
/// pulled here, so the images the remote engine needs are saved from the local engine and loaded into it (the core's
/// own LoadImage). The session for it is made from DOCKER_HOST exactly as a build's would be.
/// </summary>
public sealed class RemoteEngineFixture : IAsyncLifetime
{
    public const int EnginePort = 2375;

    public CapturingLog LocalLog { get; } = new();

    public CapturingLog RemoteLog { get; } = new();

    public KubeDindSession Local { get; private set; } = null!;

    /// <summary>The container whose dockerd is the remote engine.</summary>
    public KubeDindCluster EngineContainer { get; private set; } = null!;

    /// <summary>The remote engine's address as this process reaches it (its IP on the kubedind network).</summary>
    public string EngineAddress { get; private set; } = null!;

    /// <summary>DOCKER_HOST for the remote engine: tcp://&lt;address&gt;:2375.</summary>
    public string DockerHost { get; private set; } = null!;

    public KubeDindSession Remote { get; private set; } = null!;

    /// <summary>
    /// The cluster image, built from this checkout under a test tag (the default tag is shared with other builds on this
    /// engine), with k3s when KUBEDIND_K3S_BINARY is set; the remote engine's own container runs it in compose mode.
    /// </summary>
    public string ClusterImage { get; private set; } = null!;

    /// <summary>The registry image (mirror and stand-in upstream), loaded into the remote engine.</summary>
    public string MirrorImage { get; private set; } = null!;

    public TimeSpan EngineStart { get; private set; }

    public TimeSpan ImagesLoaded { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var watch = Stopwatch.StartNew();
        Local = await KubeDindSession.ConnectAsync(LocalLog);
        var k3s = ClusterTestSupport.K3sBinary;
        var settings = ClusterTestSupport.ComposeSettings("engine") with
        {
            ImageBuild = new ClusterImageSettings { Tag = k3s is null ? "kdt-remote/kube-dind:compose" : "kdt-remote/kube-dind:k3s", K3sBinary = k3s },
            Environment = new Dictionary<string, string> { ["KUBEDIND_DOCKERD_HOSTS"] = $"tcp://0.0.0.0:{EnginePort}" },
        };
        EngineContainer = await Local.StartClusterAsync(settings);
        ClusterImage = EngineContainer.Image;
        EngineStart = watch.Elapsed;

        var inspect = await Local.Docker.Containers.InspectContainerAsync(EngineContainer.ContainerId);
        EngineAddress = inspect.NetworkSettings.Networks[EngineContainer.Network].IPAddress;
        DockerHost = $"tcp://{EngineAddress}:{EnginePort}";

        // What the remote engine needs to run KubeDind offline: the cluster image (also its probe image) and the base image
        // test images are built from. Through the local engine's image export and the remote engine's docker load.
        var baseImage = await new BaseImage(Local.Docker, Local.Log).EnsureAsync(CancellationToken.None);
        MirrorImage = await new MirrorImage(Local).EnsureAsync(null, CancellationToken.None);
        foreach (var image in new[] { baseImage, MirrorImage, EngineContainer.Image })
        {
            await EngineContainer.LoadImageAsync(image);
        }

        ImagesLoaded = watch.Elapsed;
        Remote = await KubeDindSession.ConnectAsync(
            DockerEndpoint.Resolve(environment: name => name == DockerEndpoint.DockerHostVariable ? DockerHost : null),
            RemoteLog);
    }

    public async ValueTask DisposeAsync()
    {
        Remote?.Dispose();
        if (EngineContainer is not null)
        {
            // Removes the remote engine with everything it held.
            await EngineContainer.DisposeAsync();

            // The test tag on the local engine: untagged where KubeDind's own tag names the same image, else removed.
            try
            {
                await new ImageStore(Local!.Docker, Local.Log).RemoveAsync(EngineContainer.Image, force: false, CancellationToken.None);
            }
            catch (global::Docker.DotNet.DockerApiException)
            {
                // still used by a container, or gone already
            }
        }

        Local?.Dispose();
    }
}

[CollectionDefinition("Remote engine")]
public sealed class RemoteEngineCollection : ICollectionFixture<RemoteEngineFixture>
{
}
