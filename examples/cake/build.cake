// KubeDind's example, end to end: StartMirror → StartCluster → build the app and Redis images → PushImage →
// Deploy → system test (call the app from the host; it keeps a value in Redis, found by Service name, stored
// on a PersistentVolumeClaim) → Teardown (in Cake's Teardown, so also after failures).
//
//   dotnet cake examples/cake/build.cake --nuget_source=artifacts/packages [--k3s-binary=PATH] [--k3s-args="..."] [--keep-cluster]
//   [--k3s-versions=v1.30.4+k3s1,v1.31.4+k3s1]   the same system test once per k3s release (downloaded, verified, cached)
//
// The repo's `./build.sh --target=SystemTest` packs the addin and runs this script with those arguments.
#addin nuget:?package=Cake.KubeDind&version=0.1.0

using System.Net.Http;
using System.Net.Http.Json;
using k8s;

var k3sBinary = Argument("k3s-binary", EnvironmentVariable("KUBEDIND_K3S_BINARY") ?? string.Empty);
var k3sArgs = Argument("k3s-args", string.Empty);
var k3sDownload = HasArgument("k3s-download");
var k3sVersions = Argument("k3s-versions", string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var keepCluster = HasArgument("keep-cluster");
var artifacts = MakeAbsolute(Directory(Argument("artifacts", "../../artifacts")));
var configuration = Argument("configuration", "Release");

var app = MakeAbsolute(Directory("../app"));
var publish = artifacts.Combine("examples/app/publish");
const string AppImage = "kubedind-example-app:dev";
const string RedisImage = "kubedind-example-redis:dev";   // the name examples/app/deploy/redis.yaml uses
const string ExpectedGreeting = "Greetings from the KubeDind ConfigMap";

KubeDindCluster cluster = null;

// Kubernetes needs a k3s binary in the cluster image: a local one, or the pinned release downloaded online.
// Decide before anything starts, so a missing one costs one line and no containers.
Task("K3sSource")
    .Does(() =>
{
    if (k3sVersions.Length > 0)
    {
        // Each run downloads its release (once: the host cache keeps it); a binary from KUBEDIND_K3S_BINARY is not used.
        k3sBinary = string.Empty;
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

Task("PublishApp")
    .Does(() =>
{
    DotNetPublish(app.CombineWithFilePath("ExampleApp.csproj").FullPath, new DotNetPublishSettings
    {
        Configuration = configuration,
        Runtime = "linux-x64",
        SelfContained = true,
        OutputDirectory = publish,
    });
});

Task("SystemTest")
    .IsDependentOn("K3sSource")
    .IsDependentOn("PublishApp")
    .Does(async () =>
{
    // One pull-through cache per upstream registry, kept between builds; offline, each serves what its cache holds.
    var mirror = await KubeDindStartMirror();
    Information(mirror.ToString());

    // Once per k3s release asked for (--k3s-versions), else once with the k3s chosen by K3sSource.
    foreach (var k3sVersion in k3sVersions.Length == 0 ? new string[] { null } : k3sVersions)
    {
        if (cluster != null)
        {
            await KubeDindTeardown(cluster);
            cluster = null;
        }

        await SystemTestOnAsync(mirror, k3sVersion);
    }
});

Task("Default").IsDependentOn("SystemTest");

// StartCluster → PushImage → Deploy → the system tests, on k3s k3sVersion (null: the binary or download K3sSource chose).
async Task SystemTestOnAsync(KubeDindMirror mirror, string k3sVersion)
{
    cluster = await KubeDindStartCluster(new KubeDindClusterSettings()
        .WithMirror(mirror)
        .WithK3sBinary(k3sBinary)                        // "" when the image downloads k3s instead
        .WithK3sDownload(k3sDownload)
        .WithK3sVersion(k3sVersion)                      // null: leaves the choice above as it is
        .WithK3sArgsLine(k3sArgs)
        .WithArtifactsDirectory(artifacts.Combine("kubedind"))   // diagnostics bundles and the kubeconfig
        .WithPublishedPort(30080));                     // the app's NodePort, called from the host below
    Information($"cluster: {cluster}");

    var image = await KubeDindBuildImage(new KubeDindBuildImageSettings()
        .WithContext(publish)
        .WithDockerfile(app.CombineWithFilePath("Dockerfile"))
        .WithTag(AppImage));
    var pushed = await KubeDindPushImage(cluster, image);
    Information($"image: {image} is {pushed} in the cluster");
    var redis = await KubeDindBuildImage(new KubeDindBuildImageSettings()
        .WithContext(MakeAbsolute(Directory("../redis")))
        .WithTag(RedisImage));
    Information($"image: {redis} is {await KubeDindPushImage(cluster, redis)} in the cluster");

    try
    {
        // deploy/deployment.yaml names kubedind-example-app:dev; Deploy rewrites it to the reference pushed above.
        var result = await KubeDindDeploy(cluster, new KubeDindDeploySettings()
            .WithManifestDirectory(app.Combine("deploy"))
            .WithTimeout(TimeSpan.FromMinutes(5)));
        foreach (var applied in result.Objects) Information($"deployed: {applied}");
    }
    catch (Exception ex) when (ex.GetKubeDindDiagnosticsDirectory() is { } diagnostics)
    {
        Error($"Deploy failed; diagnostics bundle: {diagnostics}");
        throw;
    }
    finally
    {
        // What the caches did in this run; an image a cache-only mirror could not serve gets one line saying so.
        var usage = await mirror.ReadUsageAsync();
        Information($"mirror: {usage}");
        foreach (var line in usage.NotServedLines()) Warning(line);
    }

    await CheckGreetingAsync();
    await SmokeJobAsync();
    await CheckValueAsync();
}

// The system test: call the deployed app from the host and check its answer carries the ConfigMap's text.
async Task CheckGreetingAsync()
{
    await using var endpoint = await KubeDindOpenService(cluster, "example-app", "http");
    Information($"system test: calling {endpoint}");
    using var http = new HttpClient { BaseAddress = endpoint.Url, Timeout = TimeSpan.FromSeconds(10) };
    var deadline = DateTime.UtcNow.AddSeconds(60);
    string last = "no answer yet";
    while (DateTime.UtcNow < deadline)
    {
        try
        {
            var body = await http.GetStringAsync("greeting?name=KubeDind");
            if (body.Contains(ExpectedGreeting + ", KubeDind!", StringComparison.Ordinal))
            {
                Information($"system test passed: {body}");
                return;
            }

            last = $"answer without the ConfigMap's greeting: {body}";
        }
        catch (HttpRequestException ex)
        {
            last = ex.Message;
        }
        catch (TaskCanceledException)
        {
            last = "no answer within 10s";
        }

        await System.Threading.Tasks.Task.Delay(2000);
    }

    var bundle = await KubeDindCollectDiagnostics(cluster);
    Error($"system test failed; diagnostics bundle: {bundle.Directory}");
    throw new CakeException($"system test: GET {endpoint.Url}greeting did not return \"{ExpectedGreeting}, KubeDind!\" within 60s (last: {last}).");
}

// A check inside the cluster, the way migrations and smoke tests run: a Job to completion, its exit code and logs.
// The app image names kubedind-example-app:dev; like Deploy, the Job gets the reference pushed above.
async Task SmokeJobAsync()
{
    var job = await KubeDindRunJob(cluster, new KubeDindJobSettings()
        .WithImage(AppImage, "sh", "-c", "test -x /app/ExampleApp && echo smoke: app binary present")
        .WithName("smoke"));
    Information($"job {job.Name}: exit code {job.ExitCode}: {job.Output.Trim()}");
    if (job.ExitCode != 0) throw new CakeException($"smoke job failed with exit code {job.ExitCode}: {job.Output.Trim()}");

    // Logs of every pod of a workload (previous instances too), e.g. to attach to a failed test.
    var logs = await KubeDindReadLogs(cluster, "Deployment", "example-app", new KubeDindLogsSettings().WithTailLines(5));
    Information($"example-app logs: {logs.Containers.Count} containers");

    // kubectl inside the cluster container, with no kubeconfig to pass (the same as docker exec <name> kubectl ...).
    // A warning, not a failure: a k3s server binary built alone answers as kubectl only through a symlink, which
    // older images do not have.
    var nodes = await cluster.ExecAsync("kubectl", "get", "nodes", "-o", "name");
    if (nodes.Succeeded) Information($"kubectl in the cluster: {nodes.StandardOutput.Trim()}");
    else Warning($"kubectl in the cluster failed: {nodes.FirstErrorLine}");
}

// The app stores a value in Redis (found by its Service name) and reads it back, also after Redis's pod was
// replaced: the value was on the PersistentVolumeClaim.
async Task CheckValueAsync()
{
    await using var endpoint = await KubeDindOpenService(cluster, "example-app", "http");
    using var http = new HttpClient { BaseAddress = endpoint.Url, Timeout = TimeSpan.FromSeconds(10) };
    var value = Guid.NewGuid().ToString("N");
    await RetryAsync("PUT values/system-test", async () =>
    {
        using var put = await http.PutAsync("values/system-test", new StringContent(value));
        return put.IsSuccessStatusCode ? null : $"{(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}";
    });
    await ExpectValueAsync(http, value, "written through the app");

    await cluster.Kubernetes.CoreV1.DeleteCollectionNamespacedPodAsync("default", labelSelector: "app=example-redis");
    Information("system test: Redis's pod deleted; its Deployment starts a new one on the same claim");
    await ExpectValueAsync(http, value, "after Redis's pod was replaced");
}

async Task ExpectValueAsync(HttpClient http, string value, string when) =>
    await RetryAsync($"GET values/system-test {when}", async () =>
    {
        using var get = await http.GetAsync("values/system-test");
        var body = await get.Content.ReadAsStringAsync();
        if (get.IsSuccessStatusCode && body == value)
        {
            Information($"system test passed: the value came back {when}");
            return null;
        }

        return $"{(int)get.StatusCode}: {body}";
    });

// Runs attempt until it returns null (success) or 90 s pass; then fails with the diagnostics bundle.
async Task RetryAsync(string what, Func<Task<string>> attempt)
{
    var deadline = DateTime.UtcNow.AddSeconds(90);
    string last = "no answer yet";
    while (DateTime.UtcNow < deadline)
    {
        try
        {
            last = await attempt();
            if (last == null) return;
        }
        catch (Exception ex) when (ex is HttpRequestException || ex is TaskCanceledException)
        {
            last = ex.Message;
        }

        await System.Threading.Tasks.Task.Delay(2000);
    }

    var bundle = await KubeDindCollectDiagnostics(cluster);
    Error($"system test failed; diagnostics bundle: {bundle.Directory}");
    throw new CakeException($"system test: {what} did not succeed within 90s (last: {last}).");
}

bool GitHubReachable()
{
    try
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var response = http.Send(new HttpRequestMessage(HttpMethod.Head, "https://github.com/k3s-io/k3s/releases"));
        return true;
    }
    catch (Exception)
    {
        return false;
    }
}

Teardown(context =>
{
    if (cluster == null)
    {
        return;
    }

    if (keepCluster)
    {
        Information($"--keep-cluster: cluster {cluster.Name} keeps running.");
        if (cluster.KubeconfigPath != null) Information($"  kubectl --kubeconfig {cluster.KubeconfigPath} get pods -A      (API {cluster.ApiEndpoint})");
        Information($"  docker exec -it {cluster.Name} kubectl get pods -A");
        Information($"  the app: http://127.0.0.1:{cluster.HostPort(30080)}/greeting");
        Information($"  remove it: docker rm -fv {cluster.Name}");
        return;
    }

    KubeDindTeardown(cluster).GetAwaiter().GetResult();
});

RunTarget(Argument("target", "Default"));
