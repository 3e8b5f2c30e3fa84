using KubeDind.Deploy;
using KubeDind.Tests.Fakes;

namespace KubeDind.Tests.Deploy;

/// <summary>Service access against <see cref="FakeKubernetesApi"/> (a fake API server, not a cluster).</summary>
public sealed class ServiceAccessTests : IAsyncLifetime
{
    private readonly FakeKubernetesApi _fake = new();

    public async ValueTask InitializeAsync()
    {
        using var client = _fake.CreateClient();
        var settings = new DeploySettings { Manifests = ["app"], BaseDirectory = ManifestFiles.Root, PollInterval = TimeSpan.FromMilliseconds(50) };
        await DeployStep.RunAsync(client, settings, new DeployContext { ClusterName = "kdt-fake", ArtifactsDirectory = Path.GetTempPath() }, TestContext.Current.CancellationToken);
    }

    public ValueTask DisposeAsync() => _fake.DisposeAsync();

    [Fact]
    public async Task A_published_node_port_is_reached_through_its_host_port()
    {
        using var client = _fake.CreateClient();
        var access = new ServiceAccess(client, new Dictionary<int, int> { [30080] = 41080 });

        await using var endpoint = await access.OpenAsync("web", "http", cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(new Uri("http://127.0.0.1:41080/"), endpoint.Url);
        Assert.Equal("node port 30080 published on host port 41080", endpoint.Via);
    }

    [Fact]
    public async Task Without_a_published_port_a_port_forward_reaches_a_ready_pod_on_the_named_target_port()
    {
        using var client = _fake.CreateClient();
        var access = new ServiceAccess(client);

        await using var endpoint = await access.OpenAsync("web", "80", cancellationToken: TestContext.Current.CancellationToken);
        using var http = new HttpClient();
        var body = await http.GetStringAsync(endpoint.Url, TestContext.Current.CancellationToken);

        Assert.Equal("port-forward to pod web-7d4b9c-x1:8080", endpoint.Via);
        Assert.Equal("hello from web-7d4b9c-x1:8080", body);
    }

    [Fact]
    public async Task An_unknown_port_names_the_ports_there_are()
    {
        using var client = _fake.CreateClient();

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => new ServiceAccess(client).OpenAsync("web", "grpc", cancellationToken: TestContext.Current.CancellationToken));

        Assert.Equal("Service default/web has no port 'grpc' (it has http:80); use one of those.", ex.Message);
    }
}
