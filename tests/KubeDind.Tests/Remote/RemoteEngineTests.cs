using System.Net.Sockets;
using Docker.DotNet.Models;
using k8s;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Mirror;
using KubeDind.Networking;
using KubeDind.Tests.Cluster;
using KubeDind.Waiting;

namespace KubeDind.Tests.Remote;

/// <summary>
/// The core driven from this process against a Docker engine that is not this process's own: every port the engine
/// publishes is on the engine's machine, and every URL must use the engine's address.
/// </summary>
[Collection("Remote engine")]
public sealed class RemoteEngineTests(RemoteEngineFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Sweep --all-state removes every saved state on its engine, so it runs here, on an engine of this test's own:
    /// on the shared engine it would take other builds' states (and this run's warm-start test's) with it.
    /// </summary>
    [Fact]
    public async Task Sweep_with_all_state_removes_saved_states_and_the_layer_store_and_keeps_a_state_in_use()
    {
        var remote = fixture.Remote;
        var key = ClusterStateKey.For(new ClusterSettings(), "sha256:kdt-" + Guid.NewGuid().ToString("N"), "fake");
        async Task<string> StateVolumeAsync(string name)
        {
            var labels = key.ToLabels();
            labels[KubeDindLabels.Owner] = KubeDindLabels.OwnerValue;
            labels[KubeDindLabels.Role] = ClusterStateStore.Role;
            labels[ClusterStateStore.SavedLabel] = DateTimeOffset.UtcNow.ToString("O");
            await remote.Docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = name, Labels = labels }, Ct);
            return name;
        }

        var idle = await StateVolumeAsync("kdt-remote-state-idle");
        var inUse = await StateVolumeAsync("kdt-remote-state-in-use");
        await LayerStore.EnsureVolumeAsync(remote, new LayerStoreSettings(), Ct);
        var user = await remote.Docker.Containers.CreateContainerAsync(new CreateContainerParameters
        {
            Image = fixture.ClusterImage,
            Name = "kdt-remote-state-user",
            Entrypoint = ["/bin/true"],
            HostConfig = new HostConfig { Mounts = [new Mount { Type = "volume", Source = inUse, Target = "/state" }] },
        }, Ct);
        try
        {
            var swept = await remote.SweepAsync(new SweepSettings { AllState = true }, Ct);

            Assert.Contains(idle, swept.RemovedVolumes);
            Assert.Contains(LayerStoreSettings.DefaultVolume, swept.RemovedVolumes);
            Assert.DoesNotContain(inUse, swept.RemovedVolumes);
            Assert.Equal([inUse], (await new ClusterStateStore(remote).ListAsync(Ct)).Select(s => s.Volume));
        }
        finally
        {
            await remote.Docker.Containers.RemoveContainerAsync(user.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
            await remote.Docker.Volumes.RemoveAsync(inUse, force: true, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_cluster_on_a_remote_engine_is_reached_pushed_to_and_torn_down_from_the_build()
    {
        output.WriteLine($"remote engine {fixture.DockerHost}: up after {fixture.EngineStart.TotalSeconds:0.0}s, images loaded after {fixture.ImagesLoaded.TotalSeconds:0.0}s");
        var remote = fixture.Remote;
        Assert.False(remote.Engine.IsLocal);
        Assert.Equal(fixture.EngineAddress, remote.Engine.PublishedHost);

        const int ServicePort = 8080;
        var settings = ClusterTestSupport.ComposeSettings("remote") with { Image = fixture.ClusterImage, Ports = [new PortMapping(ServicePort)] };
        var before = await EngineInventory.TakeAsync(remote.Docker);
        var cluster = await remote.StartClusterAsync(settings, Ct);
        try
        {
            output.WriteLine($"cluster {cluster}: {cluster.Timings}");

            // Published on the engine's every address (with the warning), reached at the engine's address, pushed to by the
            // engine at its own loopback.
            Assert.Equal(fixture.EngineAddress, cluster.PublishedHost);
            Assert.StartsWith($"{fixture.EngineAddress}:", cluster.RegistryHostEndpoint, StringComparison.Ordinal);
            Assert.StartsWith("127.0.0.1:", cluster.RegistryEngineEndpoint, StringComparison.Ordinal);
            Assert.Contains(fixture.RemoteLog.Warnings, w => w.Contains($"cluster {cluster.Name}: ports published on 0.0.0.0", StringComparison.Ordinal) && w.Contains("remote", StringComparison.Ordinal));
            var inspect = await remote.Docker.Containers.InspectContainerAsync(cluster.ContainerId, Ct);
            Assert.All(inspect.HostConfig.PortBindings.Values.SelectMany(b => b), b => Assert.Equal("0.0.0.0", b.HostIP));

            // Capabilities were learned on the engine's side (a probe container there), not from this machine's /proc.
            var security = fixture.RemoteLog.Lines.Select(l => l.Message).Where(m => m.StartsWith("container security:", StringComparison.Ordinal)).ToList();
            output.WriteLine($"privilege {cluster.Privilege}; {string.Join(" | ", security)}");
            if (cluster.Privilege == PrivilegeMode.Fallback)
            {
                Assert.Contains(security, m => m.Contains("probe container", StringComparison.Ordinal));
                Assert.DoesNotContain(security, m => m.Contains("on this machine", StringComparison.Ordinal));
            }

            // PushImage: an image built on the remote engine, pushed by it; its registry answers this process.
            var tag = $"kdt-remote-app:{Guid.NewGuid().ToString("N")[..8]}";
            await ClusterTestSupport.BuildTinyImageAsync(remote, tag);
            var reference = await cluster.PushImageAsync(tag, cancellationToken: Ct);
            Assert.Equal($"localhost:5000/{tag}", reference);
            var tags = await ClusterTestSupport.RegistryTagsAsync(cluster.RegistryHostEndpoint, "kdt-remote-app");
            Assert.Contains(tag.Split(':')[1], tags, StringComparison.Ordinal);

            // A published port: something listening in the cluster container answers this process at the engine's address.
            // (A second registry process from the image: the image carries no general-purpose listener.)
            var listen = await cluster.ExecAsync(["sh", "-c", $"REGISTRY_HTTP_ADDR=:{ServicePort} REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/tmp/kdt-listener setsid docker-registry serve /etc/kubedind/registry.yml </dev/null >/dev/null 2>&1 &"], null, Ct);
            Assert.True(listen.Succeeded, listen.FirstErrorLine);
            // The listener starts in the background; under load it may take seconds before it accepts.
            var listening = await cluster.ExecAsync(["sh", "-c", $"for i in $(seq 150); do ss -ltn | grep -q ':{ServicePort} ' && exit 0; sleep 0.2; done; echo 'nothing listening on {ServicePort} after 30 s' >&2; exit 1"], null, Ct);
            Assert.True(listening.Succeeded, listening.FirstErrorLine);
            var answer = await ReadLineAsync(cluster.PublishedHost, cluster.HostPort(ServicePort));
            Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        }
        finally
        {
            await cluster.DisposeAsync();
        }

        // Teardown through the remote engine leaves nothing of this run there.
        var after = await EngineInventory.TakeAsync(remote.Docker);
        Assert.DoesNotContain(before.NewIn(after, remote.RunId), r => r.Kind != "network");
    }

    [Fact]
    public async Task A_mirror_on_a_remote_engine_answers_the_build_at_the_engines_address()
    {
        var remote = fixture.Remote;
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var upstream = $"kdt-remote-upstream-{suffix}";
        var name = $"kdt-remote-mirror-{suffix}";

        // The stand-in upstream: a plain registry on the remote engine's kubedind network (nothing is reachable upstream here).
        var networkId = await KubeDindNetwork.EnsureAsync(remote, cancellationToken: Ct);
        await remote.Docker.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Name = upstream,
                Image = fixture.MirrorImage,
                Labels = KubeDindLabels.ForResource("test-upstream", remote.RunId),
                ExposedPorts = new Dictionary<string, EmptyStruct> { ["5000/tcp"] = default },
                HostConfig = new HostConfig
                {
                    PortBindings = new Dictionary<string, IList<PortBinding>> { ["5000/tcp"] = [new PortBinding { HostIP = "0.0.0.0", HostPort = string.Empty }] },
                    NetworkMode = KubeDindNetwork.DefaultName,
                },
                NetworkingConfig = new NetworkingConfig
                {
                    EndpointsConfig = new Dictionary<string, EndpointSettings> { [KubeDindNetwork.DefaultName] = new EndpointSettings { NetworkID = networkId, Aliases = [upstream] } },
                },
            },
            Ct);
        try
        {
            await remote.Docker.Containers.StartContainerAsync(upstream, new ContainerStartParameters(), Ct);
            var published = (await remote.Docker.Containers.InspectContainerAsync(upstream, Ct)).NetworkSettings.Ports["5000/tcp"][0].HostPort;
            await new ReadinessWaiter(remote.Log).WaitAsync($"upstream {upstream}", [new RegistryApiGate($"http://{fixture.EngineAddress}:{published}")], TimeSpan.FromSeconds(30), null, Ct);

            var mirrors = await remote.StartMirrorAsync(new MirrorSettings { Name = name, Image = fixture.MirrorImage }.WithOnly(new MirrorRegistry("docker.io", $"http://{upstream}:5000")), Ct);
            var mirror = Assert.Single(mirrors.Registries);
            output.WriteLine($"mirror {mirror.HostUrl} (in the network {mirror.NetworkUrl})");
            Assert.False(mirror.CacheOnly);
            Assert.StartsWith($"http://{fixture.EngineAddress}:", mirror.HostUrl, StringComparison.Ordinal);
            Assert.Contains(fixture.RemoteLog.Warnings, w => w.Contains($"mirror {name}: ports published on 0.0.0.0", StringComparison.Ordinal));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            using var response = await http.GetAsync(new Uri($"{mirror.HostUrl}/v2/"), Ct);
            Assert.True(response.IsSuccessStatusCode, $"GET {mirror.HostUrl}/v2/ answered {(int)response.StatusCode}");
        }
        finally
        {
            await remote.StopMirrorAsync(name, removeCache: true, CancellationToken.None);
            await remote.Docker.Containers.RemoveContainerAsync(upstream, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
        }
    }

    [Fact]
    public async Task Kubernetes_on_a_remote_engine_answers_the_build_with_a_certificate_for_the_engines_address()
    {
        if (ClusterTestSupport.K3sBinary is null)
        {
            Assert.Skip(ClusterTestSupport.NoK3sReason);
        }

        var remote = fixture.Remote;
        var settings = new ClusterSettings
        {
            Name = ClusterTestSupport.UniqueName("remote-k8s"),
            Image = fixture.ClusterImage,
            ReadinessTimeout = TimeSpan.FromMinutes(5),
            StopTimeout = TimeSpan.FromSeconds(5),
            KubeconfigDirectory = Path.Combine(Path.GetTempPath(), "kdt-cluster-kubeconfigs"),
        };
        await using var cluster = await remote.StartClusterAsync(settings, Ct);
        output.WriteLine($"cluster {cluster}: {cluster.Timings}");

        // The kubeconfig names the engine's address, and the API server's certificate is valid for it: the client verifies
        // it against the cluster's CA as usual (no insecure-skip) and gets an answer.
        Assert.StartsWith($"https://{fixture.EngineAddress}:", cluster.ApiEndpoint, StringComparison.Ordinal);
        Assert.Contains($"server: https://{fixture.EngineAddress}:", await File.ReadAllTextAsync(cluster.KubeconfigPath!, Ct), StringComparison.Ordinal);
        var namespaces = await cluster.Kubernetes.CoreV1.ListNamespaceAsync(cancellationToken: Ct);
        Assert.Contains(namespaces.Items, n => n.Metadata.Name == "default");

        var endpoint = new Uri(cluster.ApiEndpoint!);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(endpoint.Host, endpoint.Port, Ct);
        await using var tls = new System.Net.Security.SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions { TargetHost = endpoint.Host }, Ct);
        using var certificate = new System.Security.Cryptography.X509Certificates.X509Certificate2(tls.RemoteCertificate!);
        var names = certificate.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509SubjectAlternativeNameExtension>().SelectMany(e => e.EnumerateIPAddresses()).Select(ip => ip.ToString()).ToList();
        output.WriteLine($"API certificate IP addresses: {string.Join(", ", names)}");
        Assert.Contains(fixture.EngineAddress, names);
    }

    private static async Task<string?> ReadLineAsync(string host, int port)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(host, port, Ct);
                var stream = client.GetStream();
                await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET /v2/ HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"), Ct);
                using var reader = new StreamReader(stream);
                var line = await reader.ReadLineAsync(Ct);
                if (!string.IsNullOrEmpty(line))
                {
                    return line;
                }
            }
            catch (SocketException ex)
            {
                last = ex;
            }
            catch (IOException ex)
            {
                last = ex;
            }

            await Task.Delay(250, Ct);
        }

        throw new TimeoutException($"nothing answered at {host}:{port} within 60 s: {last?.Message}");
    }
}
