// KubeDind's example, in the order a build writes it: publish the app, then StartMirror → build the images →
// StartCluster, which pushes them while Kubernetes boots → Deploy → test the deployed app from the host → Teardown
// (Cake's Teardown, so after failures too).
// The example's own further checks (the greeting's text, a smoke Job, logs, kubectl inside the cluster, Redis keeping
// a value when its pod is replaced) are in example-checks.cake, so this script reads like the README.
//
//   dotnet cake examples/cake/build.cake --nuget_source=artifacts/packages [--k3s-binary=PATH] [--k3s-args="..."] [--keep-cluster]
//   [--k3s-versions=v1.30.4+k3s1,v1.31.4+k3s1]   the same system test once per k3s release (downloaded, verified, cached)
//
// The repo's `./build.sh --target=SystemTest` packs the addin and runs this script with those arguments.
#addin nuget:?package=Cake.KubeDind&version=0.1.0
#load "example-checks.cake"

var k3sBinary = Argument("k3s-binary", EnvironmentVariable("KUBEDIND_K3S_BINARY") ?? string.Empty);
var k3sDownload = HasArgument("k3s-download");
var k3sArgs = Argument("k3s-args", string.Empty);
// Null: the k3s K3sSource chose; else each release named, downloaded once into the host cache and verified.
var k3sVersions = Argument("k3s-versions", string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } named ? named : new string[] { null };
var keepCluster = HasArgument("keep-cluster");
var artifacts = MakeAbsolute(Directory(Argument("artifacts", "../../artifacts")));
var publish = artifacts.Combine("examples/app/publish");   // the app's image context: its publish output and Dockerfile

KubeDindCluster cluster = null;

// Kubernetes needs a k3s binary in the cluster image: a local one, or the pinned release downloaded online.
// Decided before anything starts, so a missing one costs one line and no containers.
Task("K3sSource").Does(() =>
{
    if (k3sVersions[0] != null)
    {
        k3sBinary = string.Empty;   // a named release wins over a local binary
        Information($"k3s: the system test runs on {string.Join(", ", k3sVersions)}");
        return;
    }

    if (!string.IsNullOrWhiteSpace(k3sBinary))
    {
        var path = MakeAbsolute(File(k3sBinary));
        if (!FileExists(path)) throw new CakeException($"--k3s-binary={k3sBinary}: no such file; pass the path of a k3s binary (v1.21+, linux-{(System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64")}).");
        k3sBinary = path.FullPath;
        Information($"k3s: using {k3sBinary}");
        return;
    }

    if (!k3sDownload && !GitHubReachable())
    {
        throw new CakeException("no k3s available: this host is offline and no k3s binary was given; pass --k3s-binary=/path/to/k3s (or set KUBEDIND_K3S_BINARY), or run where github.com is reachable to download the pinned release.");
    }

    k3sDownload = true;
    Information("k3s: no local binary given; the cluster image downloads the pinned k3s release");
});

// Self-contained for linux-x64 (the image has no .NET runtime), with the Dockerfile beside it as the image's context.
Task("PublishApp").Does(() =>
{
    DotNetPublish("../app/ExampleApp.csproj", new DotNetPublishSettings
    {
        Configuration = Argument("configuration", "Release"), Runtime = "linux-x64", SelfContained = true, OutputDirectory = publish,
    });
    CopyFileToDirectory("../app/Dockerfile", publish);
});

// snippet: flow
Task("SystemTest").IsDependentOn("K3sSource").IsDependentOn("PublishApp").Does(async () =>
{
    var mirror = await KubeDindStartMirror();           // a pull-through cache per upstream registry, kept between builds
    var appImage = await KubeDindBuildImage(new KubeDindBuildImageSettings().WithContext(publish).WithTag(AppImage));  // unchanged: not rebuilt
    var redisImage = await KubeDindBuildImage(new KubeDindBuildImageSettings().WithContext(Directory("../redis")).WithTag(RedisImage));
    foreach (var k3sVersion in k3sVersions)             // once, or once per --k3s-versions release
    {
        if (cluster != null) await KubeDindTeardown(cluster);   // the previous release's cluster
        cluster = await KubeDindStartCluster(new KubeDindClusterSettings().WithMirror(mirror)
            .WithK3sBinary(k3sBinary).WithK3sDownload(k3sDownload).WithK3sVersion(k3sVersion).WithK3sArgsLine(k3sArgs)
            .WithArtifactsDirectory(artifacts.Combine("kubedind")).WithPublishedPort(30080)  // kubeconfig, diagnostics; the app's NodePort
            .WithImagesToPush(appImage, redisImage));   // pushed into its registry while Kubernetes boots
        await KubeDindDeploy(cluster, new KubeDindDeploySettings().WithManifestDirectory(Directory("../app/deploy")));  // images: the pushed ones
        await using var app = await KubeDindOpenService(cluster, "example-app", "http");   // app.Url: from the host
        await ExpectGreetingAsync(cluster, app);        // your system tests go here; the example's are in
        await RunExampleChecksAsync(cluster, mirror, app);   // example-checks.cake
    }
});

// --keep-cluster: say how to reach the cluster instead of removing it. Then where the minutes went, failed runs too.
Teardown(context =>
{
    if (keepCluster) ShowKeptCluster(cluster); else if (cluster != null) KubeDindTeardown(cluster).GetAwaiter().GetResult();
    Information(KubeDindTimeline().Render());           // mirror, start, build, push, deploy, test, teardown: seconds and share
});
// end snippet: flow

Task("Default").IsDependentOn("SystemTest");

RunTarget(Argument("target", "Default"));
