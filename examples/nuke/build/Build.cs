using KubeDind.Cluster;
using KubeDind.Images;
using Nuke.Common;
using Nuke.Common.IO;
using Nuke.Common.Tooling;
using Nuke.Common.Tools.DotNet;
using Nuke.KubeDind;
using Serilog;
using static Nuke.Common.Tools.DotNet.DotNetTasks;

namespace KubeDind.Examples.Nuke;

/// <summary>
/// The example app's system test through the KubeDind Nuke component, the same flow as the Cake example:
/// PublishApp → StartMirror → StartCluster → PushImage (builds the app's image) → Deploy (examples/app/deploy)
/// → SystemTest (asks the app for its greeting, which must come from the ConfigMap, and stores a value in Redis,
/// which the app finds by its Service name, and reads it back) → Teardown.
/// </summary>
internal sealed class Build : NukeBuild, IKubeDind
{
    // The name examples/app/deploy/deployment.yaml uses: Deploy rewrites it to what PushImage pushed.
    private const string AppImage = "kubedind-example-app:dev";
    private const string RedisImage = "kubedind-example-redis:dev";
    private const string AppService = "example-app";
    private const int AppNodePort = 30080;
    private const string ExpectedGreeting = "Greetings from the KubeDind ConfigMap";

    // snippet: component
    public static int Main() => Execute<Build>(x => ((IKubeDind)x).SystemTest);

    // Built through the Docker API from each context (a Dockerfile's ARG BASE_IMAGE gets KubeDind's offline base
    // image), then pushed to the cluster's registry.
    IEnumerable<KubeDindImage> IKubeDind.Images =>
    [
        new KubeDindImage(AppImage, AppContext),
        new KubeDindImage(RedisImage, ExamplesDirectory / "redis"),
    ];

    // Applied in dependency order; Deploy waits for the rollouts and rewrites image names to the pushed ones.
    IEnumerable<AbsolutePath> IKubeDind.Manifests => [AppDirectory / "deploy"];

    // The app's NodePort, published on the host, where the system test calls it.
    Configure<ClusterSettings> IKubeDind.StartClusterSettings => _ => _ with { Ports = [.. _.Ports, new PortMapping(AppNodePort)] };

    // Run by SystemTest after Deploy and before Teardown; RunningCluster has the Kubernetes client, services and exec.
    Task IKubeDind.RunSystemTestsAsync() => CheckAppAsync(((IKubeDind)this).RunningCluster);
    // end snippet: component

    /// <summary>examples/ (this build's root is examples/nuke).</summary>
    private AbsolutePath ExamplesDirectory => RootDirectory.Parent;

    private AbsolutePath AppDirectory => ExamplesDirectory / "app";

    /// <summary>The image's build context: the self-contained publish output plus the app's Dockerfile.</summary>
    private AbsolutePath AppContext => ExamplesDirectory.Parent / "artifacts" / "examples" / "nuke" / "app";

    AbsolutePath IKubeDind.KubeDindArtifactsDirectory => ExamplesDirectory.Parent / "artifacts" / "kubedind";

    Target PublishApp => _ => _
        .Description("Publish the example app self-contained for linux-x64, with its Dockerfile, as the image's build context")
        .Before<IKubeDind>(x => x.StartMirror)
        .DependentFor<IKubeDind>(x => x.PushImage)
        .Executes(() =>
        {
            AppContext.CreateOrCleanDirectory();
            DotNetPublish(_ => _
                .SetProject(AppDirectory / "ExampleApp.csproj")
                .SetConfiguration("Release")
                .SetRuntime("linux-x64")
                .SetSelfContained(true)
                .SetOutput(AppContext));
            (AppDirectory / "Dockerfile").CopyToDirectory(AppContext, ExistsPolicy.FileOverwrite);
        });

    /// <summary>
    /// Asks the app for its greeting, which must come from the ConfigMap, then stores a value in Redis through the app
    /// (Redis found by its Service name, its data on a PersistentVolumeClaim) and reads it back.
    /// </summary>
    private static async Task CheckAppAsync(KubeDindCluster cluster)
    {
        await using var endpoint = await cluster.OpenServiceAsync(AppService, "http");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var answer = await http.GetStringAsync(new Uri(endpoint.Url, "/greeting"));
        if (!answer.Contains(ExpectedGreeting, StringComparison.Ordinal))
        {
            throw new KubeDindException($"example-app answered '{answer.Trim()}' at {endpoint}, not the ConfigMap's greeting '{ExpectedGreeting}'.");
        }

        Log.Information("example-app answered {Answer} via {Endpoint}", answer.Trim(), endpoint.ToString());

        // A value through the app into Redis (found by its Service name, data on a PersistentVolumeClaim) and back.
        var value = Guid.NewGuid().ToString("N");
        var deadline = DateTime.UtcNow.AddSeconds(90);
        var last = "no answer yet";
        while (true)
        {
            try
            {
                using var put = await http.PutAsync(new Uri(endpoint.Url, "/values/system-test"), new StringContent(value));
                var read = put.IsSuccessStatusCode ? await http.GetStringAsync(new Uri(endpoint.Url, "/values/system-test")) : null;
                if (read == value)
                {
                    Log.Information("example-app stored {Value} in Redis and read it back", value);
                    return;
                }

                last = read is null ? $"PUT answered {(int)put.StatusCode}" : $"GET answered '{read}'";
            }
            catch (HttpRequestException ex)
            {
                last = ex.Message;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new KubeDindException($"example-app did not store and return a value through Redis within 90s at {endpoint} (last: {last}).");
            }

            await Task.Delay(500);
        }
    }
}
