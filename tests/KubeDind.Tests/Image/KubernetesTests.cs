using Docker.DotNet.Models;

namespace KubeDind.Tests.Image;

/// <summary>The kube-dind image with k3s: pods from the in-cluster registry, and Service traffic between pods.</summary>
[Collection(ImageCollection.Name)]
public sealed class KubernetesTests
{
    private readonly ImageFixture _fixture;
    private readonly ITestOutputHelper _output;

    public KubernetesTests(ImageFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task PodFromLocalhost5000RunsAndASecondPodReachesItThroughAService()
    {
        if (ImageFixture.K3sBinary is null)
        {
            Assert.Skip("KUBEDIND_K3S_BINARY is not set: no k3s binary to build the image with (none can be downloaded here); set it to a k3s v1.21+ binary to run the Kubernetes tests.");
        }

        Assert.NotNull(_fixture.Image.K3sVersion);
        await using var cluster = await KubeDindTestContainer.StartAsync(_fixture.Session, _output, _fixture.Image.Tag, new Dictionary<string, string> { ["KUBEDIND_KUBERNETES"] = "true" }, Cancel);
        try
        {
            await cluster.WaitReadyAsync(TimeSpan.FromMinutes(5), Cancel);
            // The HEALTHCHECK stops at the API's /readyz (workload readiness is the core's to decide): a pod needs the
            // default service account, which the controller manager makes a moment later.
            await cluster.ShellAsync("for i in $(seq 120); do kubectl get serviceaccount default >/dev/null 2>&1 && exit 0; sleep 1; done; echo 'no default service account after 120 s' >&2; exit 1", Cancel);

            // The image reaches the cluster only through the :5000 registry: pushed there, then removed from the daemon.
            await cluster.MakeToolsImageAsync("localhost:5000/kdt/tools:1", Cancel);
            await cluster.ShellAsync("docker push localhost:5000/kdt/tools:1 >/dev/null && docker rmi localhost:5000/kdt/tools:1", Cancel);

            const string manifests = """
                apiVersion: v1
                kind: Pod
                metadata: { name: server, labels: { app: server } }
                spec:
                  containers:
                    - name: registry
                      image: localhost:5000/kdt/tools:1
                      imagePullPolicy: Always
                      ports: [{ containerPort: 5000 }]
                ---
                apiVersion: v1
                kind: Service
                metadata: { name: server }
                spec:
                  selector: { app: server }
                  ports: [{ port: 80, targetPort: 5000 }]
                """;
            await cluster.ShellAsync($"kubectl apply -f - <<'EOF'\n{manifests}\nEOF", Cancel);
            await cluster.ShellAsync("kubectl wait --for=condition=Ready pod/server --timeout=180s", Cancel);

            // No CoreDNS without air-gap images: the client reaches the Service by its cluster IP.
            var serviceIp = (await cluster.ShellAsync("kubectl get service server -o jsonpath='{.spec.clusterIP}'", Cancel)).Trim();
            await cluster.ShellAsync(
                $"kubectl run client --image=localhost:5000/kdt/tools:1 --restart=Never --command -- /usr/bin/curl -fsS --retry 10 --retry-connrefused --retry-delay 1 http://{serviceIp}/v2/",
                Cancel);
            await cluster.ShellAsync("for i in $(seq 120); do p=$(kubectl get pod client -o jsonpath='{.status.phase}'); [ \"$p\" = Succeeded ] && exit 0; [ \"$p\" = Failed ] && exit 1; sleep 1; done; exit 1", Cancel);
            _output.WriteLine(await cluster.ShellAsync("kubectl logs client; kubectl get pods -o wide", Cancel));

            // With a pod running, SIGTERM still stops pods, k3s, registry and dockerd, in that order, within 10 s.
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await _fixture.Session.Docker.Containers.StopContainerAsync(cluster.Id, new ContainerStopParameters { WaitBeforeKillSeconds = 15 }, Cancel);
            watch.Stop();
            var logs = await cluster.LogsAsync(Cancel);
            _output.WriteLine($"SIGTERM to exit with Kubernetes: {watch.Elapsed.TotalSeconds:0.00}s\n{logs}");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10.5), $"stopping took {watch.Elapsed.TotalSeconds:0.0}s");
            var order = new[] { "pods stopped", "k3s stopped", "registry stopped", "dockerd stopped" }.Select(m => logs.IndexOf(m, StringComparison.Ordinal)).ToList();
            Assert.True(order.All(i => i >= 0) && order.SequenceEqual(order.Order()), $"stop order was not pods, k3s, registry, dockerd:\n{logs}");
        }
        catch
        {
            var diagnostics = await cluster.ExecAsync(["bash", "-c", "kubectl get pods -A -o wide; kubectl describe pods | tail -40; tail -n 60 /var/log/kubedind/k3s.log"], cancellationToken: CancellationToken.None);
            _output.WriteLine(diagnostics.StandardOutput + diagnostics.StandardError);
            throw;
        }
    }
}
