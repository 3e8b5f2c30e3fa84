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
/// (compose-mode tests then run it with KUBEDIND_KUBERNETES=false), otherwise in compose mode.
/// </summary>
public sealed class ImageFixture : IAsyncLifetime
{
    public static string? K3sBinary => Environment.GetEnvironmentVariable("KUBEDIND_K3S_BINARY") is { Length: > 0 } path ? path : null;

    public KubeDindSession Session { get; private set; } = null!;

    public ClusterImageInfo Image { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Session = await KubeDindSession.ConnectAsync(new ConsoleKubeDindLog(KubeDindLogLevel.Information));
        Image = await ClusterImage.EnsureAsync(Session, new ClusterImageSettings { K3sBinary = K3sBinary });
    }

    public ValueTask DisposeAsync() => Session?.DisposeAsync() ?? ValueTask.CompletedTask;
}
