using KubeDind;
using KubeDind.Cluster;
using KubeDind.Logging;

// Usage: KubeDind.OrphanOwner <cluster name> <artifacts directory>
// Starts a compose-mode cluster owned by this process, prints "ready <container id>" and waits until it is killed.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: KubeDind.OrphanOwner <cluster name> <artifacts directory>");
    return 2;
}

using var session = await KubeDindSession.ConnectAsync(new ConsoleKubeDindLog(KubeDindLogLevel.Warning));
var cluster = await session.StartClusterAsync(new ClusterSettings
{
    Name = args[0],
    Kubernetes = false,
    ArtifactsDirectory = args[1],
    SweepFirst = false,
    ReadinessTimeout = TimeSpan.FromMinutes(3),
});
Console.WriteLine($"ready {cluster.ContainerId}");
await Task.Delay(Timeout.Infinite);
return 0;
