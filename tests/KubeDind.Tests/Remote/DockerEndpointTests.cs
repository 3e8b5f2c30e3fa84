using KubeDind.Docker;
using KubeDind.Networking;

namespace KubeDind.Tests.Remote;

public sealed class DockerEndpointTests
{
    private static Func<string, string?> Env(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    [Fact]
    public void A_local_socket_publishes_and_is_reached_on_loopback()
    {
        var engine = DockerEndpoint.Resolve(environment: Env());
        Assert.True(engine.IsLocal);
        Assert.Equal("127.0.0.1", engine.PublishedHost);
        Assert.Equal("127.0.0.1", engine.DefaultBindAddress);
        Assert.Null(engine.WhyNotLoopback);
    }

    [Fact]
    public void A_tcp_engine_publishes_on_every_address_and_is_reached_by_its_host_name()
    {
        var engine = DockerEndpoint.Resolve(environment: Env(("DOCKER_HOST", "tcp://docker:2375")));
        Assert.False(engine.IsLocal);
        Assert.Equal("docker", engine.PublishedHost);
        Assert.Equal("0.0.0.0", engine.DefaultBindAddress);
        Assert.Contains("remote", engine.WhyNotLoopback, StringComparison.Ordinal);
        Assert.Equal("docker", engine.UrlHostFor("0.0.0.0"));
        Assert.Equal("docker", engine.UrlHostFor("127.0.0.1"));
        Assert.Equal("10.1.2.3", engine.UrlHostFor("10.1.2.3"));
    }

    [Fact]
    public void The_override_wins_for_urls_and_opens_the_bind_address()
    {
        var engine = DockerEndpoint.Resolve(environment: Env(("DOCKER_HOST", "tcp://10.0.0.9:2375"), ("KUBEDIND_HOST_OVERRIDE", "build-gw")));
        Assert.Equal("build-gw", engine.PublishedHost);
        Assert.Equal("build-gw", engine.UrlHostFor("0.0.0.0"));
        Assert.Contains("KUBEDIND_HOST_OVERRIDE", engine.WhyNotLoopback, StringComparison.Ordinal);

        // The setting beats the variable; a loopback override on a local engine keeps the loopback default.
        var local = DockerEndpoint.Resolve(hostOverride: "localhost", environment: Env(("KUBEDIND_HOST_OVERRIDE", "ignored")));
        Assert.Equal("localhost", local.PublishedHost);
        Assert.Equal("127.0.0.1", local.DefaultBindAddress);
    }

    [Fact]
    public void An_ipv6_engine_host_goes_into_urls_in_brackets()
    {
        var engine = DockerEndpoint.Resolve(new Uri("tcp://[fd00::5]:2375"), environment: Env());
        Assert.Equal("fd00::5", engine.PublishedHost);
        Assert.Equal("[fd00::5]", engine.UrlHostFor("::"));
    }

    [Theory]
    [InlineData("DOCKER_HOST", "not a uri", "DOCKER_HOST='not a uri' is not a URI")]
    [InlineData("DOCKER_HOST", "ftp://docker:21", "has scheme 'ftp'")]
    [InlineData("KUBEDIND_HOST_OVERRIDE", "no spaces please", "KUBEDIND_HOST_OVERRIDE='no spaces please' is not a host name or IP address")]
    public void Bad_addresses_are_one_line_errors_naming_the_input(string variable, string value, string expected)
    {
        var error = Assert.Throws<KubeDindException>(() => DockerEndpoint.Resolve(environment: Env((variable, value))));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task An_ssh_engine_gets_one_line_saying_how_to_forward_it()
    {
        var engine = DockerEndpoint.Resolve(environment: Env(("DOCKER_HOST", "ssh://ci@build-vm")));
        Assert.Equal("build-vm", engine.PublishedHost);
        var error = await Assert.ThrowsAsync<KubeDindException>(() => DockerEngine.ConnectAsync(engine, TestContext.Current.CancellationToken));
        Assert.Contains("ssh -L 2375:/var/run/docker.sock", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Ports_default_to_loopback_and_a_setting_that_opens_them_comes_with_a_warning()
    {
        var local = DockerEndpoint.Resolve(environment: Env());
        var closed = HostPorts.Choose(local, null, "ClusterSettings.HostAddress", "cluster x");
        Assert.Equal("127.0.0.1", closed.BindAddress);
        Assert.Equal("127.0.0.1", closed.UrlHost);
        Assert.Null(closed.Warning);
        Assert.True(closed.CanCheckLocally);

        var open = HostPorts.Choose(local, "0.0.0.0", "ClusterSettings.HostAddress", "cluster x");
        Assert.Equal("0.0.0.0", open.BindAddress);
        Assert.Equal("127.0.0.1", open.UrlHost);
        Assert.Contains("ClusterSettings.HostAddress = 0.0.0.0", open.Warning, StringComparison.Ordinal);

        var remote = HostPorts.Choose(DockerEndpoint.Resolve(environment: Env(("DOCKER_HOST", "tcp://docker:2375"))), null, "ClusterSettings.HostAddress", "cluster x");
        Assert.Equal("0.0.0.0", remote.BindAddress);
        Assert.Equal("docker", remote.UrlHost);
        Assert.False(remote.CanCheckLocally);
        Assert.Contains("remote", remote.Warning, StringComparison.Ordinal);

        var error = Assert.Throws<KubeDindException>(() => HostPorts.Choose(local, "localhost:80", "MirrorSettings.HostAddress", "mirror m"));
        Assert.StartsWith("mirror m: MirrorSettings.HostAddress 'localhost:80' is not an IP address", error.Message, StringComparison.Ordinal);
    }
}
