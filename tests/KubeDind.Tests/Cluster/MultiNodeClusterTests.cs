using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using k8s;
using KubeDind.Cluster;
using KubeDind.Docker;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// A multi-node cluster (a server and two agents, each its own container): every node Ready, a Deployment with required
/// pod anti-affinity spread over the three, pods on different nodes reaching each other and a Service, pushed images
/// pulled on every node, loaded ones on every node, and Teardown leaving none of the containers or volumes. Needs
/// KUBEDIND_K3S_BINARY (skips with the reason otherwise); the sweep of agents runs everywhere.
/// </summary>
[Collection("Cluster")]
public sealed class MultiNodeClusterTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task One_server_and_two_agents_spread_a_Deployment_and_pods_on_different_nodes_talk_through_a_Service()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(ClusterTestSupport.NoK3sReason);
        }

        var log = new CapturingLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        var settings = ClusterTestSupport.KubernetesSettings("multi") with
        {
            Agents = 2,
            // The user's own kubelet rate and kube-proxy period win over KubeDind's, on the server and on every agent.
            K3sArgs = ["--kubelet-arg=kube-api-burst=77", "--kube-proxy-arg=iptables-min-sync-period=300ms"],
            ReadinessTimeout = TimeSpan.FromMinutes(6),
        };
        var name = settings.Name!;
        var tools = $"kdt-multinode-tools:{Guid.NewGuid().ToString("N")[..8]}";
        KubeDindCluster cluster;
        try
        {
            cluster = await session.StartClusterAsync(settings, Ct);
        }
        catch (KubeDindException ex)
        {
            throw new InvalidOperationException($"{ex.Message}\n{ex.Details}", ex);
        }

        try
        {
            output.WriteLine($"timings: {cluster.Timings}");
            output.WriteLine($"phases: {string.Join(", ", cluster.Timings.Phases().Select(p => $"{p.Phase} {p.Duration.TotalSeconds:0.0}s"))}");
            Assert.Equal([$"{name}-agent-1", $"{name}-agent-2"], cluster.Agents.Select(a => a.Name));
            Assert.NotNull(cluster.Timings.AgentsStarted);
            Assert.Contains("always starts cold", cluster.Timings.Start, StringComparison.Ordinal);
            foreach (var agent in cluster.Agents)
            {
                Assert.Contains(cluster.Timings.Gates, g => g.Gate == $"node Ready: {agent.NodeName}");
            }

            var nodes = await cluster.Kubernetes.CoreV1.ListNodeAsync(cancellationToken: Ct);
            Assert.Equal(
                new[] { "kubedind" }.Concat(cluster.Agents.Select(a => a.NodeName)).Order(StringComparer.Ordinal),
                nodes.Items.Select(n => n.Metadata.Name).Order(StringComparer.Ordinal));
            Assert.All(nodes.Items, n => Assert.Contains(n.Status.Conditions, c => c.Type == "Ready" && c.Status == "True"));
            foreach (var node in nodes.Items)
            {
                Assert.Equal(new KubeletConfig(50, 77), await KubeletConfig.ReadAsync(cluster.Kubernetes, node.Metadata.Name, Ct));
            }

            foreach (var nodeContainer in cluster.Agents.Select(a => a.ContainerId).Prepend(cluster.ContainerId))
            {
                Assert.Equal(new KubeProxyConfig("300ms"), await KubeProxyConfig.ReadAsync(session.Docker, nodeContainer, Ct));
            }

            // One image, pushed (pods on the agents pull it from the server's registry) and loaded (imported on every node).
            var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(Ct);
            var context = new BuildContext().AddText("Dockerfile", $"FROM {cluster.Image} AS cluster\nFROM {baseImage}\nCOPY --from=cluster /bin/busybox /usr/local/bin/busybox\n");
            await new ImageStore(session.Docker, session.Log).BuildAsync(context, tools, new Dictionary<string, string>(), new Dictionary<string, string>(), Ct);
            var pushed = await cluster.PushImageAsync(tools, cancellationToken: Ct);
            Assert.Equal(tools, await cluster.LoadImageAsync(tools, Ct));
            Assert.Contains(log.Lines, l => l.Message.Contains("to each of 3 nodes", StringComparison.Ordinal));
            foreach (var agent in cluster.Agents)
            {
                var inspect = await ContainerExec.RunAsync(session.Docker, agent.ContainerId, ["crictl", "inspecti", tools], cancellationToken: Ct);
                Assert.True(inspect.Succeeded, $"{tools} is not in agent {agent.Name}'s containerd: {inspect.FirstErrorLine}");
            }

            await KubectlAsync(cluster, $$"""
                apiVersion: apps/v1
                kind: Deployment
                metadata: { name: web }
                spec:
                  replicas: 3
                  selector: { matchLabels: { app: web } }
                  template:
                    metadata: { labels: { app: web } }
                    spec:
                      affinity:
                        podAntiAffinity:
                          requiredDuringSchedulingIgnoredDuringExecution:
                            - labelSelector: { matchLabels: { app: web } }
                              topologyKey: kubernetes.io/hostname
                      containers:
                        - name: httpd
                          image: {{pushed}}
                          imagePullPolicy: Always
                          command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec busybox httpd -f -p 8080 -h /www"]
                          ports: [{ containerPort: 8080 }]
                ---
                apiVersion: v1
                kind: Service
                metadata: { name: web }
                spec: { selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }
                """, "apply", "-f", "-");
            await KubectlAsync(cluster, string.Empty, "rollout", "status", "deployment/web", "--timeout=240s");
            var pods = (await cluster.Kubernetes.CoreV1.ListNamespacedPodAsync("default", labelSelector: "app=web", cancellationToken: Ct)).Items
                .Where(p => p.Status?.Phase == "Running").ToList();
            output.WriteLine(string.Join("\n", pods.Select(p => $"{p.Metadata.Name} on {p.Spec.NodeName} at {p.Status.PodIP}")));
            Assert.Equal(3, pods.Select(p => p.Spec.NodeName).Distinct().Count());

            // A client on each agent (the loaded image, never pulled): every web pod by its address, and the Service by name.
            var podIps = string.Join(' ', pods.Select(p => p.Status.PodIP));
            foreach (var agent in cluster.Agents)
            {
                var client = $"client-{agent.NodeName[^7..]}";
                await KubectlAsync(cluster, $$"""
                    apiVersion: v1
                    kind: Pod
                    metadata: { name: {{client}} }
                    spec:
                      nodeName: {{agent.NodeName}}
                      restartPolicy: Never
                      containers:
                        - name: client
                          image: {{tools}}
                          imagePullPolicy: Never
                          command:
                            - bash
                            - -c
                            - |
                              set -e
                              get() { exec 3<>"/dev/tcp/$1/$2"; printf 'GET / HTTP/1.0\r\n\r\n' >&3; tail -n1 <&3; exec 3>&-; }
                              for ip in {{podIps}}; do echo "pod $ip: $(get "$ip" 8080)"; done
                              for i in $(seq 15); do echo "service: $(get web 80)"; done
                    """, "apply", "-f", "-");
                var result = await cluster.ExecAsync(["sh", "-c", $"for i in $(seq 180); do p=$(kubectl get pod {client} -o jsonpath='{{.status.phase}}'); [ \"$p\" = Succeeded ] && exit 0; [ \"$p\" = Failed ] && exit 1; sleep 1; done; exit 2"], null, Ct);
                var logs = await cluster.ExecAsync(["kubectl", "logs", client], null, Ct);
                output.WriteLine($"{client} on {agent.NodeName}:\n{logs.StandardOutput}");
                Assert.True(result.Succeeded, $"{client} did not succeed: {logs.StandardOutput}{logs.StandardError}");
                foreach (var pod in pods)
                {
                    Assert.Contains($"pod {pod.Status.PodIP}: {pod.Metadata.Name}", logs.StandardOutput, StringComparison.Ordinal);
                }

                var served = logs.StandardOutput.Split('\n').Where(l => l.StartsWith("service: ", StringComparison.Ordinal)).Select(l => l["service: ".Length..]).ToHashSet();
                var remote = pods.Where(p => p.Spec.NodeName != agent.NodeName).Select(p => p.Metadata.Name).ToHashSet();
                Assert.True(served.Overlaps(remote), $"the Service never answered from another node's pod (answers: {string.Join(", ", served)})");
            }

            // The storage fallback's volumes live in the server container: a pod using a claim runs there.
            await KubectlAsync(cluster, $$"""
                apiVersion: v1
                kind: PersistentVolumeClaim
                metadata: { name: data }
                spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 1Mi } } }
                ---
                apiVersion: v1
                kind: Pod
                metadata: { name: writer }
                spec:
                  volumes: [{ name: data, persistentVolumeClaim: { claimName: data } }]
                  containers:
                    - name: writer
                      image: {{tools}}
                      imagePullPolicy: Never
                      command: ["sh", "-c", "echo kept > /data/file && exec sleep 3600"]
                      volumeMounts: [{ name: data, mountPath: /data }]
                """, "apply", "-f", "-");
            await KubectlAsync(cluster, string.Empty, "wait", "--for=condition=Ready", "pod/writer", "--timeout=120s");
            Assert.Equal(ClusterContainerSpec.ServerNodeName, (await cluster.Kubernetes.CoreV1.ReadNamespacedPodAsync("writer", "default", cancellationToken: Ct)).Spec.NodeName);

            // Diagnostics bundles carry every agent's logs.
            var bundle = await cluster.CollectDiagnosticsAsync(Ct);
            Assert.Contains(bundle.Files, f => f.EndsWith("agent-1-k3s.log", StringComparison.Ordinal));
            Assert.Contains(bundle.Files, f => f.EndsWith("agent-2-container.log", StringComparison.Ordinal));
        }
        finally
        {
            await cluster.DisposeAsync();
            await ClusterTestSupport.RemoveImageAsync(session, tools);
            output.WriteLine(string.Join("\n", log.Lines.Where(l => l.Message.Contains("torn down", StringComparison.Ordinal) || l.Message.Contains("removed after", StringComparison.Ordinal)).Select(l => l.Message)));
        }

        var filter = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{KubeDindLabels.Cluster}={name}"] = true } };
        Assert.Empty(await session.Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, Ct));
        Assert.Empty((await session.Docker.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, Ct)).Volumes ?? []);
    }

    [Fact]
    public async Task Sweep_removes_the_agents_of_a_dead_run_with_its_server()
    {
        var log = new CapturingLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        var image = await new BaseImage(session.Docker, log).EnsureAsync(Ct); // any image: the containers only need to exist
        var server = new ClusterContainerSpec(ClusterTestSupport.UniqueName("dead-multi"), image, new ClusterSettings { Agents = 1 }, "dead-run");
        var created = new List<string>();
        foreach (var parameters in new[] { server.ToParameters(PrivilegeMode.Privileged), new ClusterAgentSpec(server, 1, "token").ToParameters(PrivilegeMode.Privileged) })
        {
            parameters.Labels[KubeDindLabels.OwnerPid] = "999999999";
            var response = await session.Docker.Containers.CreateContainerAsync(
                new CreateContainerParameters { Name = parameters.Name, Image = image, Labels = parameters.Labels, Entrypoint = ["/bin/true"] }, Ct);
            created.Add(response.ID);
        }

        try
        {
            await session.SweepAsync(cancellationToken: Ct);

            // Another test's StartCluster may have swept them a moment earlier: either way they are gone.
            var left = (await session.Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true }, Ct)).Where(c => created.Contains(c.ID)).ToList();
            Assert.Empty(left);
        }
        finally
        {
            foreach (var id in created)
            {
                try
                {
                    await session.Docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
                }
                catch (DockerApiException)
                {
                }
            }
        }
    }

    private static async Task<string> KubectlAsync(KubeDindCluster cluster, string manifest, params string[] args)
    {
        using var input = manifest.Length == 0 ? null : new MemoryStream(Encoding.UTF8.GetBytes(manifest));
        var result = await cluster.ExecAsync(["kubectl", .. args], input, Ct);
        Assert.True(result.Succeeded, $"kubectl {string.Join(' ', args)}: {result.StandardError}{result.StandardOutput}");
        return result.StandardOutput;
    }
}
