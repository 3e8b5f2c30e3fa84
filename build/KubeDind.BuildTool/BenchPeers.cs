using System.Diagnostics;
using System.Globalization;
using Docker.DotNet.Models;
using k8s;
using k8s.Models;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Mirror;
using KubeDind.Waiting;

namespace KubeDind.BuildTool;

/// <summary>
/// The peers Bench compares with, done the way one would by hand: bare k3s in the same image and container flags,
/// <c>docker push</c> and <c>kubectl apply</c> + <c>kubectl rollout status</c> (the CLIs on the machine).
/// </summary>
internal static class BenchPeers
{
    // k3s alone on its embedded containerd (the settings measured to work here), none of KubeDind's entrypoint:
    // the cgroup set-up the container needs, the pause image, a bridge CNI config, then `k3s server`. The containerd
    // template renders k3s's registries.yaml mirrors as k3s's own template does; BARE_REGISTRIES, when set, is that file.
    private const string BareK3sScript = """
        set -e
        source /usr/local/lib/kubedind/common.sh
        source /usr/local/lib/kubedind/cgroups.sh
        cgroups_start || true
        export PATH="/usr/local/lib/kubedind/k3s-dist/bin:$PATH:/usr/lib/cni"
        agent=/var/lib/rancher/k3s/agent
        mkdir -p "$agent/etc/containerd" "$agent/images" /etc/cni/net.d /etc/kubedind
        cp /usr/local/share/kubedind/pause-image.tar "$agent/images/"
        cat > /etc/cni/net.d/10-bare.conflist <<'JSON'
        {"cniVersion": "0.4.0", "name": "bare", "plugins": [
          {"type": "bridge", "bridge": "bare0", "isGateway": true, "ipMasq": true,
           "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.42.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
          {"type": "portmap", "capabilities": {"portMappings": true}}]}
        JSON
        cat > "$agent/etc/containerd/config.toml.tmpl" <<'TOML'
        version = 2
        [plugins."io.containerd.internal.v1.opt"]
          path = "{{ .NodeConfig.Containerd.Opt }}"
        [plugins."io.containerd.grpc.v1.cri"]
          stream_server_address = "127.0.0.1"
          stream_server_port = "10010"
          sandbox_image = "{{ .NodeConfig.AgentConfig.PauseImage }}"
          restrict_oom_score_adj = true
        [plugins."io.containerd.grpc.v1.cri".containerd]
          snapshotter = "{{ .NodeConfig.AgentConfig.Snapshotter }}"
          disable_snapshot_annotations = true
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
          runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".cni]
          bin_dir = "/usr/lib/cni"
          conf_dir = "/etc/cni/net.d"
        {{ if .PrivateRegistryConfig }}{{ range $k, $v := .PrivateRegistryConfig.Mirrors }}
        [plugins."io.containerd.grpc.v1.cri".registry.mirrors."{{ $k }}"]
          endpoint = [{{ range $i, $j := $v.Endpoints }}{{ if $i }}, {{ end }}{{ printf "%q" . }}{{ end }}]
        {{ end }}{{ end }}
        TOML
        if [ -n "${BARE_REGISTRIES:-}" ]; then
          mkdir -p /etc/rancher/k3s
          printf '%s\n' "$BARE_REGISTRIES" > /etc/rancher/k3s/registries.yaml
        fi
        iptables -w -I FORWARD 1 -s 10.42.0.0/16 -j ACCEPT || true
        iptables -w -I FORWARD 1 -d 10.42.0.0/16 -j ACCEPT || true
        exec /usr/local/bin/k3s server --flannel-backend=none --disable-network-policy \
          --disable=traefik,servicelb,metrics-server,local-storage,coredns --pause-image=kubedind/pause:3.10 \
          --node-name=kubedind --write-kubeconfig=/etc/kubedind/kubeconfig.yaml --write-kubeconfig-mode=644 \
          --kube-proxy-arg=conntrack-max-per-core=0 --kubelet-arg=oom-score-adj=0 --kube-proxy-arg=oom-score-adj=0
        """;

    /// <summary>
    /// Seconds from creating a container of <paramref name="image"/> (KubeDind's container flags for <paramref name="mode"/>)
    /// running bare k3s, until the node is Ready and the default service account exists, polled from the host.
    /// </summary>
    public static async Task<(double Seconds, double CoresAtRest)> BareK3sColdAsync(KubeDindSession session, string image, PrivilegeMode mode, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await using var bare = await StartBareK3sAsync(session, image, mode, null, [], cancellationToken);
        var seconds = watch.Elapsed.TotalSeconds;
        return (seconds, await CoresAtRestAsync(session, bare.ContainerId, cancellationToken));
    }

    /// <summary>How long a cluster (or bare k3s) is left alone after it is ready before <see cref="CoresAtRestAsync"/> measures.</summary>
    public static readonly TimeSpan SettleBeforeRest = TimeSpan.FromSeconds(10);

    /// <summary>How long <see cref="CoresAtRestAsync"/> measures.</summary>
    public static readonly TimeSpan RestWindow = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The CPU the container uses while nothing asks anything of it, in cores: its cgroup's CPU time over
    /// <see cref="RestWindow"/>, <see cref="SettleBeforeRest"/> after it is ready, from the engine's stats (what a CI
    /// machine loses to a cluster that waits for the build's next step).
    /// </summary>
    public static async Task<double> CoresAtRestAsync(KubeDindSession session, string containerId, CancellationToken cancellationToken)
    {
        await Task.Delay(SettleBeforeRest, cancellationToken);
        var first = await StatsAsync(session, containerId, cancellationToken);
        await Task.Delay(RestWindow, cancellationToken);
        var last = await StatsAsync(session, containerId, cancellationToken);
        if (first?.CPUStats?.CPUUsage is not { } before || last?.CPUStats?.CPUUsage is not { } after || last.Read <= first.Read)
        {
            return double.NaN;
        }

        return (after.TotalUsage - before.TotalUsage) / 1e9 / (last.Read - first.Read).TotalSeconds;
    }

    /// <summary>One sample of the engine's stats of the container (null when none came within 2 s).</summary>
    public static async Task<ContainerStatsResponse?> StatsAsync(KubeDindSession session, string containerId, CancellationToken cancellationToken)
    {
        ContainerStatsResponse? stats = null;
        await session.Docker.Containers.GetContainerStatsAsync(
            containerId,
            new ContainerStatsParameters { Stream = false },
            new Progress<ContainerStatsResponse>(s => stats = s),
            cancellationToken);
        for (var i = 0; i < 20 && stats is null; i++)
        {
            await Task.Delay(100, cancellationToken);
        }

        return stats;
    }

    /// <summary>
    /// Bare k3s in a container of <paramref name="image"/>, once its node is Ready and the default service account exists;
    /// <paramref name="registries"/> (k3s's registries.yaml text, or null) is written before k3s starts, and
    /// <paramref name="ports"/> are published on 127.0.0.1. Disposing it is <c>docker rm -f</c>.
    /// </summary>
    public static async Task<BareK3s> StartBareK3sAsync(KubeDindSession session, string image, PrivilegeMode mode, string? registries, IReadOnlyList<int> ports, CancellationToken cancellationToken)
    {
        var name = $"kubedind-bench-bare-{session.RunId}-{Guid.NewGuid().ToString("N")[..4]}";
        var capabilities = mode == PrivilegeMode.Fallback ? await EngineCapabilities.ReadAsync(session.Docker, session.Log, cancellationToken) : null;
        var settings = new ClusterSettings
        {
            Kubernetes = true,
            LayerStore = new LayerStoreSettings { Enabled = false },
            Ports = [.. ports.Select(p => new PortMapping(p))],
            Environment = registries is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["BARE_REGISTRIES"] = registries },
        };
        var parameters = new ClusterContainerSpec(name, image, settings, session.RunId).ToParameters(mode, capabilities);
        parameters.Entrypoint = ["/usr/bin/tini", "--", "bash", "-c", BareK3sScript];
        parameters.Cmd = [];
        await KubeDind.Networking.KubeDindNetwork.EnsureAsync(session, KubeDind.Networking.KubeDindNetwork.DefaultName, cancellationToken);
        var created = await session.Docker.Containers.CreateContainerAsync(parameters, cancellationToken);
        var bare = new BareK3s(session, created.ID, Path.Combine(Path.GetTempPath(), $"{name}.kubeconfig.yaml"));
        try
        {
            await session.Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), cancellationToken);
            var inspect = await session.Docker.Containers.InspectContainerAsync(created.ID, cancellationToken);
            var apiPort = inspect.NetworkSettings.Ports[$"{ClusterContainerSpec.ApiContainerPort}/tcp"][0].HostPort;
            foreach (var port in ports)
            {
                bare.HostPorts[port] = int.Parse(inspect.NetworkSettings.Ports[$"{port}/tcp"][0].HostPort, CultureInfo.InvariantCulture);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(6));
            IKubernetes? client = null;
            try
            {
                while (true)
                {
                    timeout.Token.ThrowIfCancellationRequested();
                    var state = (await session.Docker.Containers.InspectContainerAsync(created.ID, timeout.Token)).State;
                    if (!state.Running)
                    {
                        throw new KubeDindException($"bench: bare k3s exited with code {state.ExitCode}", await ContainerLogs.TailAsync(session.Docker, created.ID, 30, CancellationToken.None));
                    }

                    try
                    {
                        if (client is null && await ClusterKubeconfig.ReadAsync(session.Docker, created.ID, timeout.Token) is { } text)
                        {
                            await ClusterKubeconfig.WriteAsync(bare.KubeconfigPath, ClusterKubeconfig.Rewrite(text, $"https://127.0.0.1:{apiPort}"), timeout.Token);
                            client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(bare.KubeconfigPath));
                        }

                        if (client is not null
                            && (await client.CoreV1.ListNodeAsync(cancellationToken: timeout.Token)).Items.Any(n => n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true)
                            && (await client.CoreV1.ListNamespacedServiceAccountAsync("default", fieldSelector: "metadata.name=default", cancellationToken: timeout.Token)).Items.Count > 0)
                        {
                            return bare;
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException and not KubeDindException)
                    {
                        // Not up yet.
                    }

                    await Task.Delay(500, timeout.Token);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new KubeDindException("bench: bare k3s: the node was not Ready with a default service account within 6 minutes", await ContainerLogs.TailAsync(session.Docker, created.ID, 30, CancellationToken.None));
            }
            finally
            {
                (client as IDisposable)?.Dispose();
            }
        }
        catch
        {
            await bare.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Seconds for the example's system test done by hand, without KubeDind: <c>docker run</c> a registry (distribution
    /// 2.8 on the cluster network, published on a loopback port), bare k3s cold with a registries.yaml that sends that
    /// loopback name to the registry over http, <c>docker push</c> of both images, <c>kubectl apply</c> +
    /// <c>rollout status</c> of <paramref name="manifests"/> (already naming the images as
    /// <c>REGISTRY/bench/example-app:bench</c> and <c>REGISTRY/bench/example-redis:bench</c>), one HTTP GET of
    /// <paramref name="path"/> through the NodePort <paramref name="nodePort"/>, then <c>docker rm -f</c> of both containers.
    /// </summary>
    public static async Task<double> ExampleByHandAsync(KubeDindSession session, string clusterImage, PrivilegeMode mode, string kubectl, string appImage, string redisImage, Func<string, string> manifests, int nodePort, string path, IReadOnlyList<string> deployments, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await using var registry = await StartRegistryAsync(session, cancellationToken);
        var registryHost = $"127.0.0.1:{registry.HostPort}";
        var registries = $"{{\"mirrors\": {{\"{registryHost}\": {{\"endpoint\": [\"http://{registry.Name}:5000\"]}}}}}}";
        await using var bare = await StartBareK3sAsync(session, clusterImage, mode, registries, [nodePort], cancellationToken);
        await DockerPushAsync(appImage, registryHost, "bench/example-app", cancellationToken);
        await DockerPushAsync(redisImage, registryHost, "bench/example-redis", cancellationToken);
        var directory = manifests(registryHost);
        try
        {
            await KubectlApplyAsync(kubectl, bare.KubeconfigPath, directory, "default", deployments, cancellationToken);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }

        await HttpGetAsync(new Uri($"http://127.0.0.1:{bare.HostPorts[nodePort]}{path}"), cancellationToken);
        await bare.DisposeAsync();
        await registry.DisposeAsync();
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>GET <paramref name="url"/> until it answers 2xx (a new NodePort may refuse for a moment), within 60 s; returns the body.</summary>
    public static async Task<string> HttpGetAsync(Uri url, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var deadline = Stopwatch.StartNew();
        string last = "no answer";
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                using var response = await http.GetAsync(url, cancellationToken);
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return body;
                }

                last = $"{(int)response.StatusCode} {body.Trim()}";
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                last = ex.Message;
            }

            await Task.Delay(250, cancellationToken);
        }

        throw new KubeDindException($"bench: GET {url} did not answer 2xx within 60 s (last: {last})");
    }

    /// <summary>
    /// Seconds for <c>docker push</c> of <paramref name="image"/> into a fresh, empty registry (distribution 2.8, the mirror's
    /// image without a remote, on a free loopback port), removed afterwards: what a new cluster's registry is to a plain push.
    /// </summary>
    public static async Task<double> DockerPushIntoFreshRegistryAsync(KubeDindSession session, string image, CancellationToken cancellationToken)
    {
        await using var registry = await StartRegistryAsync(session, cancellationToken);
        return await DockerPushAsync(image, $"127.0.0.1:{registry.HostPort}", "payload", cancellationToken);
    }

    /// <summary>
    /// A fresh, empty registry (distribution 2.8, the mirror's image without a remote) on the cluster network, published
    /// on a free loopback port, once it answers /v2/. Disposing it removes it.
    /// </summary>
    public static async Task<BenchRegistry> StartRegistryAsync(KubeDindSession session, CancellationToken cancellationToken)
    {
        var registryImage = await new MirrorImage(session).EnsureAsync(null, cancellationToken);
        var name = $"kubedind-bench-registry-{session.RunId}-{Guid.NewGuid().ToString("N")[..4]}";
        await KubeDind.Networking.KubeDindNetwork.EnsureAsync(session, KubeDind.Networking.KubeDindNetwork.DefaultName, cancellationToken);
        var created = await session.Docker.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Name = name,
                Image = registryImage,
                Labels = KubeDindLabels.ForResource("bench-registry", session.RunId),
                ExposedPorts = new Dictionary<string, EmptyStruct> { ["5000/tcp"] = default },
                HostConfig = new HostConfig
                {
                    NetworkMode = KubeDind.Networking.KubeDindNetwork.DefaultName,
                    PortBindings = new Dictionary<string, IList<PortBinding>> { ["5000/tcp"] = [new PortBinding { HostIP = "127.0.0.1" }] },
                },
            },
            cancellationToken);
        var registry = new BenchRegistry(session, created.ID, name);
        try
        {
            await session.Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), cancellationToken);
            registry.HostPort = int.Parse((await session.Docker.Containers.InspectContainerAsync(created.ID, cancellationToken)).NetworkSettings.Ports["5000/tcp"][0].HostPort, CultureInfo.InvariantCulture);
            await new ReadinessWaiter(session.Log, pollInterval: TimeSpan.FromMilliseconds(250)).WaitAsync(
                $"bench: the fresh registry {registryImage}",
                [new RegistryApiGate($"http://127.0.0.1:{registry.HostPort}")],
                TimeSpan.FromSeconds(15),
                async ct => await ContainerLogs.TailSectionAsync(session.Docker, created.ID, "fresh registry", 30, ct),
                cancellationToken);
            return registry;
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    /// <summary>Seconds for <c>docker push</c> of <paramref name="image"/> to <paramref name="registry"/> (host:port) as <paramref name="name"/>.</summary>
    public static async Task<double> DockerPushAsync(string image, string registry, string name, CancellationToken cancellationToken)
    {
        var target = $"{registry}/{name}:bench";
        await RunAsync("docker", ["tag", image, target], cancellationToken);
        try
        {
            var watch = Stopwatch.StartNew();
            await RunAsync("docker", ["push", "-q", target], cancellationToken);
            return watch.Elapsed.TotalSeconds;
        }
        finally
        {
            await RunAsync("docker", ["rmi", target], CancellationToken.None, check: false);
        }
    }

    /// <summary>Seconds for <c>kubectl apply -f DIR</c> then <c>kubectl rollout status</c> of each of <paramref name="deployments"/> in <paramref name="namespace"/>.</summary>
    public static async Task<double> KubectlApplyAsync(string kubectl, string kubeconfig, string directory, string @namespace, IReadOnlyList<string> deployments, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await RunAsync(kubectl, ["--kubeconfig", kubeconfig, "-n", @namespace, "apply", "-f", directory], cancellationToken);
        foreach (var deployment in deployments)
        {
            await RunAsync(kubectl, ["--kubeconfig", kubeconfig, "-n", @namespace, "rollout", "status", $"deployment/{deployment}", "--timeout=300s"], cancellationToken);
        }

        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>Pulls <paramref name="repository"/>:<paramref name="tag"/> through the registry at <paramref name="registryUrl"/> as a client would: the manifest, then every blob.</summary>
    public static async Task PullThroughAsync(string registryUrl, string repository, string tag, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri(registryUrl.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(5) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v2/{repository}/manifests/{tag}");
        request.Headers.Accept.ParseAdd("application/vnd.docker.distribution.manifest.v2+json");
        request.Headers.Accept.ParseAdd("application/vnd.oci.image.manifest.v1+json");
        using var response = await http.SendAsync(request, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var manifest = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
        var digests = manifest.RootElement.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("digest").GetString()!)
            .Append(manifest.RootElement.GetProperty("config").GetProperty("digest").GetString()!);
        foreach (var digest in digests)
        {
            using var blob = await http.GetAsync(new Uri($"v2/{repository}/blobs/{digest}", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            blob.EnsureSuccessStatusCode();
            await (await blob.Content.ReadAsStreamAsync(cancellationToken)).CopyToAsync(Stream.Null, cancellationToken);
        }
    }

    /// <summary>kubectl: KUBEDIND_KUBECTL, one beside the k3s binary, or on PATH.</summary>
    public static string? FindKubectl(string? k3sBinary)
    {
        if (Environment.GetEnvironmentVariable("KUBEDIND_KUBECTL") is { Length: > 0 } configured)
        {
            return configured;
        }

        if (k3sBinary is not null && Path.GetDirectoryName(Path.GetFullPath(k3sBinary)) is { } directory && File.Exists(Path.Combine(directory, "kubectl")))
        {
            return Path.Combine(directory, "kubectl");
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Select(p => Path.Combine(p, "kubectl")).FirstOrDefault(File.Exists);
    }

    public static async Task RunAsync(string file, IEnumerable<string> arguments, CancellationToken cancellationToken, bool check = true)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new KubeDindException($"bench: cannot run {file}");
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (check && process.ExitCode != 0)
        {
            var (stdout, stderr) = ((await output).Trim(), (await error).Trim());
            throw new KubeDindException(string.Create(CultureInfo.InvariantCulture, $"bench: {file} {string.Join(' ', start.ArgumentList)} exited with {process.ExitCode}: {stderr} {stdout}"));
        }
    }
}

/// <summary>A bare k3s container of the Bench; disposing it is <c>docker rm -f</c> (and its kubeconfig file goes).</summary>
internal sealed class BareK3s(KubeDindSession session, string containerId, string kubeconfigPath) : IAsyncDisposable
{
    private int _disposed;

    public string KubeconfigPath { get; } = kubeconfigPath;

    public string ContainerId { get; } = containerId;

    /// <summary>Container port → the host port it is published on (127.0.0.1).</summary>
    public Dictionary<int, int> HostPorts { get; } = [];

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            File.Delete(KubeconfigPath);
            await session.Docker.Containers.RemoveContainerAsync(ContainerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
        }
    }
}

/// <summary>A registry container of the Bench, on the cluster network and on a loopback port; disposing it removes it.</summary>
internal sealed class BenchRegistry(KubeDindSession session, string containerId, string name) : IAsyncDisposable
{
    private int _disposed;

    /// <summary>The container's name: its address on the cluster network.</summary>
    public string Name { get; } = name;

    public int HostPort { get; set; }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await session.Docker.Containers.RemoveContainerAsync(containerId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
        }
    }
}
