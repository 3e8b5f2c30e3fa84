using KubeDind.Cluster;
using KubeDind.Logging;

namespace KubeDind.Tests.Image;

[CollectionDefinition(Name)]
public sealed class ImageCollection : ICollectionFixture<ImageFixture>
{
    public const string Name = "kube-dind image";
}

/// <summary>
/// Builds the kube-dind image once for the image tests: with the k3s named by KUBEDIND_K3S_BINARY when set
/// (compose-mode tests then run it with KUBEDIND_KUBERNETES=false), otherwise in compose mode; and the compose-mode
/// image (no k3s) in every case, for the tests of an image without k3s.
/// </summary>
public sealed class ImageFixture : IAsyncLifetime
{
    public static string? K3sBinary => Environment.GetEnvironmentVariable("KUBEDIND_K3S_BINARY") is { Length: > 0 } path ? path : null;

    public KubeDindSession Session { get; private set; } = null!;

    public ClusterImageInfo Image { get; private set; } = null!;

    /// <summary>The image without k3s (the same as <see cref="Image"/> when no k3s is given).</summary>
    public ClusterImageInfo ComposeImage { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Session = await KubeDindSession.ConnectAsync(new ConsoleKubeDindLog(KubeDindLogLevel.Information));
        Image = await ClusterImage.EnsureAsync(Session, new ClusterImageSettings { K3sBinary = K3sBinary });
        ComposeImage = Image.HasKubernetes ? await ClusterImage.EnsureAsync(Session, new ClusterImageSettings()) : Image;
    }

    public ValueTask DisposeAsync() => Session?.DisposeAsync() ?? ValueTask.CompletedTask;
}
