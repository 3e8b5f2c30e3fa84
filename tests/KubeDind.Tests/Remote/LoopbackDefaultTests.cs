using KubeDind.Cluster;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Remote;

/// <summary>Security default: every port a cluster publishes is bound to 127.0.0.1 unless a setting opts out, which warns.</summary>
[Collection("Cluster")]
public sealed class LoopbackDefaultTests(ComposeClusterFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Every_published_port_is_bound_to_loopback_by_default()
    {
        var inspect = await fixture.Session.Docker.Containers.InspectContainerAsync(fixture.Cluster.ContainerId, Ct);
        var bindings = inspect.HostConfig.PortBindings.SelectMany(p => p.Value.Select(b => (p.Key, b.HostIP))).ToList();
        Assert.NotEmpty(bindings);
        Assert.All(bindings, b => Assert.Equal("127.0.0.1", b.HostIP));
        Assert.Equal("127.0.0.1", fixture.Cluster.PublishedHost);
        Assert.Equal(fixture.Cluster.RegistryHostEndpoint, fixture.Cluster.RegistryEngineEndpoint);
        Assert.DoesNotContain(fixture.Log.Warnings, w => w.Contains("ports published on", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Opting_out_publishes_on_every_address_and_says_so_in_a_warning()
    {
        var log = new CapturingLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        var settings = ClusterTestSupport.ComposeSettings("open") with { HostAddress = "0.0.0.0", Image = fixture.Cluster.Image, SweepFirst = false };
        await using var cluster = await session.StartClusterAsync(settings, Ct);
        var warning = Assert.Single(log.Warnings, w => w.Contains("ports published on 0.0.0.0", StringComparison.Ordinal));
        output.WriteLine(warning);
        Assert.Contains("ClusterSettings.HostAddress = 0.0.0.0", warning, StringComparison.Ordinal);
        var inspect = await session.Docker.Containers.InspectContainerAsync(cluster.ContainerId, Ct);
        Assert.All(inspect.HostConfig.PortBindings.Values.SelectMany(b => b), b => Assert.Equal("0.0.0.0", b.HostIP));

        // Still reached at loopback from this machine.
        Assert.StartsWith("127.0.0.1:", cluster.RegistryHostEndpoint, StringComparison.Ordinal);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync(new Uri($"http://{cluster.RegistryHostEndpoint}/v2/"), Ct);
        Assert.True(response.IsSuccessStatusCode, $"GET /v2/ answered {(int)response.StatusCode}");
    }
}
