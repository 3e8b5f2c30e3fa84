using System.Diagnostics;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Images;
using KubeDind.Testing;

namespace ExampleApp.Tests;

/// <summary>
/// The example app on a real KubeDind cluster, started once for the system tests: published self-contained, built
/// into an image on KubeDind's offline base with the example's Redis, both pushed, deployed from examples/app/deploy,
/// its Service opened.
/// Without a k3s binary (KUBEDIND_K3S_BINARY) the system tests are skipped with that reason.
/// </summary>
// snippet: fixture
public sealed partial class ExampleAppCluster() : KubeDindFixture(new KubeDindFixtureSettings
{
    Cluster = new ClusterSettings
    {
        // KUBEDIND_TEST_CLUSTER_IMAGE: a prebuilt image with k3s, so parallel builds do not share the default tag.
        Image = Environment.GetEnvironmentVariable("KUBEDIND_TEST_CLUSTER_IMAGE") is { Length: > 0 } image ? image : null,
        Ports = [new PortMapping(30080)],
    },
    // Every image the manifests name: an image left out is pulled from docker.io, which an offline cluster cannot reach.
    Images = [new KubeDindImage("kubedind-example-app:dev", PublishDirectory), new KubeDindImage("kubedind-example-redis:dev", RedisDirectory)],
    Deploy = new DeploySettings { Manifests = [Path.Combine(AppDirectory, "deploy")], Timeout = TimeSpan.FromMinutes(4) },
    Services = [new FixtureService("example-app")],
});

[CollectionDefinition(nameof(ExampleAppSystem))]
public sealed class ExampleAppSystem : ICollectionFixture<ExampleAppCluster>;
// end snippet: fixture

/// <summary>Where the example app is, and how it is published before the cluster starts.</summary>
public sealed partial class ExampleAppCluster
{
    private static readonly string AppDirectory = FindAppDirectory();

    private static readonly string RedisDirectory = Path.Combine(AppDirectory, "..", "redis");

    private static readonly string PublishDirectory = Path.Combine(Path.GetTempPath(), "kubedind-example-app-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>Publishes the app self-contained for linux-x64 (the image has no .NET runtime) and adds its Dockerfile.</summary>
    protected override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        var publish = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { "publish", Path.Combine(AppDirectory, "ExampleApp.csproj"), "-c", "Release", "-r", "linux-x64", "--self-contained", "-o", PublishDirectory, "-nologo", "-v", "q" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(publish)!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet publish of the example app failed (exit {process.ExitCode}):\n{await output}\n{await errors}");
        }

        File.Copy(Path.Combine(AppDirectory, "Dockerfile"), Path.Combine(PublishDirectory, "Dockerfile"), overwrite: true);
    }

    private static string FindAppDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "examples", "app");
            if (File.Exists(Path.Combine(candidate, "ExampleApp.csproj")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"examples/app not found above {AppContext.BaseDirectory}; run the tests from the repository.");
    }
}
