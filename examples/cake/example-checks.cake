// The example's own checks beside the flow in build.cake: the greeting's text from the ConfigMap (the system test),
// then what the mirror served, a smoke Job inside the cluster, a workload's logs, kubectl inside the cluster
// container, and Redis keeping a value on its PersistentVolumeClaim when its pod is replaced.

const string AppImage = "kubedind-example-app:dev";     // the names examples/app/deploy's manifests use
const string RedisImage = "kubedind-example-redis:dev";
const string ExpectedGreeting = "Greetings from the KubeDind ConfigMap, KubeDind!";
const int CheckTimeoutSeconds = 90;

async Task RunExampleChecksAsync(KubeDindCluster cluster, KubeDindMirror mirror, ServiceEndpoint app)
{
    await ReportMirrorUsageAsync(mirror);
    // Independent of each other, so side by side, as a test runner runs independent tests: the run takes the longest.
    await System.Threading.Tasks.Task.WhenAll(
        SmokeJobAsync(cluster),
        ReadLogsAsync(cluster),
        KubectlInsideAsync(cluster),
        CheckValueSurvivesRedisRestartAsync(cluster, app));
}

// What the caches did in this run; an image a cache-only mirror could not serve gets one line saying why.
async Task ReportMirrorUsageAsync(KubeDindMirror mirror)
{
    var usage = await mirror.ReadUsageAsync();
    Information($"mirror: {usage}");
    foreach (var line in usage.NotServedLines()) Warning(line);
}

// The system test: GET /greeting from the host until the answer carries the ConfigMap's text, so the manifests'
// configuration reached the pod. It waits up to CheckTimeoutSeconds: OpenService returns once a TCP connection to the
// node port stays open, and on a loaded machine the first HTTP request can still be reset.
async Task ExpectGreetingAsync(KubeDindCluster cluster, ServiceEndpoint app)
{
    using var http = new System.Net.Http.HttpClient { BaseAddress = app.Url, Timeout = TimeSpan.FromSeconds(10) };
    await RetryAsync(cluster, "GET greeting?name=KubeDind", async () =>
    {
        var body = await http.GetStringAsync("greeting?name=KubeDind");
        if (!body.Contains(ExpectedGreeting, StringComparison.Ordinal)) return $"an answer without \"{ExpectedGreeting}\": {body}";
        Information($"system test passed: {body}");
        return null;
    });
}

// A check inside the cluster, the way migrations and smoke tests run: a Job to completion, its exit code and logs.
// The Job names kubedind-example-app:dev; like Deploy, it gets the reference that was pushed.
async Task SmokeJobAsync(KubeDindCluster cluster)
{
    // snippet: job
    var job = await KubeDindRunJob(cluster, new KubeDindJobSettings()
        .WithImage(AppImage, "sh", "-c", "test -x /app/ExampleApp && echo smoke: app binary present")
        .WithName("smoke"));
    // end snippet: job
    Information($"job {job.Name}: exit code {job.ExitCode}: {job.Output.Trim()}");
    if (job.ExitCode != 0) throw new CakeException($"smoke job failed with exit code {job.ExitCode}: {job.Output.Trim()}");
}

// Logs of every pod of a workload (previous instances too), e.g. to attach to a failed test.
async Task ReadLogsAsync(KubeDindCluster cluster)
{
    // snippet: logs
    var logs = await KubeDindReadLogs(cluster, "Deployment", "example-app", new KubeDindLogsSettings().WithTailLines(5));
    // end snippet: logs
    Information($"example-app logs: {logs.Containers.Count} containers");
}

// kubectl inside the cluster container, with no kubeconfig to pass (the same as docker exec <name> kubectl ...).
// A warning, not a failure: a k3s server binary built alone answers as kubectl only through a symlink, which
// older images do not have.
async Task KubectlInsideAsync(KubeDindCluster cluster)
{
    // snippet: kubectl
    var nodes = await cluster.ExecAsync("kubectl", "get", "nodes", "-o", "name");
    // end snippet: kubectl
    if (nodes.Succeeded) Information($"kubectl in the cluster: {nodes.StandardOutput.Trim()}");
    else Warning($"kubectl in the cluster failed: {nodes.FirstErrorLine}");
}

// The app stores a value in Redis (found by its Service name) and reads it back, also after Redis's pod was
// replaced: the value was on the PersistentVolumeClaim. cluster.Kubernetes is KubernetesClient's client; the addin
// imports its namespaces, so no using is needed.
async Task CheckValueSurvivesRedisRestartAsync(KubeDindCluster cluster, ServiceEndpoint app)
{
    using var http = new System.Net.Http.HttpClient { BaseAddress = app.Url, Timeout = TimeSpan.FromSeconds(10) };
    var value = Guid.NewGuid().ToString("N");
    await RetryAsync(cluster, "PUT values/system-test", async () =>
    {
        using var put = await http.PutAsync("values/system-test", new System.Net.Http.StringContent(value));
        return put.IsSuccessStatusCode ? null : $"{(int)put.StatusCode}: {await put.Content.ReadAsStringAsync()}";
    });
    await ExpectValueAsync(cluster, http, value, "written through the app");

    // snippet: kubernetes-client
    await cluster.Kubernetes.CoreV1.DeleteCollectionNamespacedPodAsync("default", labelSelector: "app=example-redis");
    // end snippet: kubernetes-client
    Information("system test: Redis's pod deleted; its Deployment starts a new one on the same claim");
    await ExpectValueAsync(cluster, http, value, "after Redis's pod was replaced");
}

async Task ExpectValueAsync(KubeDindCluster cluster, System.Net.Http.HttpClient http, string value, string when) =>
    await RetryAsync(cluster, $"GET values/system-test {when}", async () =>
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

// Runs attempt until it returns null (success) or CheckTimeoutSeconds pass: a replaced Redis pod takes a few seconds to
// answer. Then fails with a diagnostics bundle.
async Task RetryAsync(KubeDindCluster cluster, string what, Func<Task<string>> attempt)
{
    var deadline = DateTime.UtcNow.AddSeconds(CheckTimeoutSeconds);
    string last = "no answer yet";
    while (DateTime.UtcNow < deadline)
    {
        try
        {
            last = await attempt();
            if (last == null) return;
        }
        catch (Exception ex) when (ex is System.Net.Http.HttpRequestException || ex is TaskCanceledException)
        {
            last = ex.Message;
        }

        await System.Threading.Tasks.Task.Delay(500);
    }

    await FailWithDiagnosticsAsync(cluster, $"system test: {what} did not succeed within {CheckTimeoutSeconds}s (last: {last}).");
}

async Task FailWithDiagnosticsAsync(KubeDindCluster cluster, string message)
{
    var bundle = await KubeDindCollectDiagnostics(cluster);
    Error($"system test failed; diagnostics bundle: {bundle.Directory}");
    throw new CakeException(message);
}

// --keep-cluster: the cluster stays; say how to reach it.
void ShowKeptCluster(KubeDindCluster cluster)
{
    if (cluster == null) return;
    Information($"--keep-cluster: cluster {cluster.Name} keeps running.");
    if (cluster.KubeconfigPath != null) Information($"  kubectl --kubeconfig {cluster.KubeconfigPath} get pods -A      (API {cluster.ApiEndpoint})");
    Information($"  docker exec -it {cluster.Name} kubectl get pods -A");
    Information($"  the app: http://127.0.0.1:{cluster.HostPort(30080)}/greeting");
    Information($"  remove it: docker rm -fv {cluster.Name}");
}

bool GitHubReachable()
{
    try
    {
        using var http = new System.Net.Http.HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var response = http.Send(new System.Net.Http.HttpRequestMessage(System.Net.Http.HttpMethod.Head, "https://github.com/k3s-io/k3s/releases"));
        return true;
    }
    catch (Exception)
    {
        return false;
    }
}
