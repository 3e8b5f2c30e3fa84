using System.Diagnostics;
using KubeDind.Existing;
using KubeDind.Networking;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Existing;

/// <summary>Connecting to an existing cluster with a bad input fails in one line that names the input; no cluster needed.</summary>
public sealed class ConnectErrorTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kdt-connect-" + Guid.NewGuid().ToString("N")[..8]);

    public ConnectErrorTests() => Directory.CreateDirectory(_directory);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_context_the_kubeconfig_does_not_have_is_named_with_the_ones_it_has()
    {
        var kubeconfig = WriteKubeconfig($"https://127.0.0.1:{HostPorts.FindFree()}");

        var error = await Assert.ThrowsAsync<KubeDindException>(() =>
            ExistingCluster.ConnectAsync(new ExistingClusterSettings { Kubeconfig = kubeconfig, Context = "staging" }, new CapturingLog(), Ct));

        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal($"connect: context 'staging' is not in kubeconfig '{kubeconfig}' (it has 'ci', 'other'); pass one of those.", error.Message);
    }

    [Fact]
    public async Task An_unreachable_server_fails_in_one_line_naming_server_and_context()
    {
        var port = HostPorts.FindFree();
        var kubeconfig = WriteKubeconfig($"https://127.0.0.1:{port}");
        var watch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<KubeDindException>(() =>
            ExistingCluster.ConnectAsync(new ExistingClusterSettings { Kubeconfig = kubeconfig, Context = "ci", ConnectTimeout = TimeSpan.FromSeconds(5) }, new CapturingLog(), Ct));

        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith($"connect: the API server https://127.0.0.1:{port} (context 'ci' in '{kubeconfig}') does not answer: ", error.Message);
        Assert.EndsWith("; check the server runs and is reachable from here.", error.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_server_that_never_answers_gives_up_after_the_connect_timeout()
    {
        // A listening socket that never speaks: the TLS handshake waits until the timeout.
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        var kubeconfig = WriteKubeconfig($"https://127.0.0.1:{port}");

        var error = await Assert.ThrowsAsync<KubeDindException>(() =>
            ExistingCluster.ConnectAsync(new ExistingClusterSettings { Kubeconfig = kubeconfig, Context = "other", ConnectTimeout = TimeSpan.FromSeconds(2) }, new CapturingLog(), Ct));

        Assert.DoesNotContain('\n', error.Message);
        Assert.Equal($"connect: the API server https://127.0.0.1:{port} (context 'other' in '{kubeconfig}') did not answer within 2s; check the server runs and is reachable from here (or raise ConnectTimeout).", error.Message);
    }

    [Fact]
    public async Task A_missing_kubeconfig_file_is_named()
    {
        var missing = Path.Combine(_directory, "nope.yaml");

        var error = await Assert.ThrowsAsync<KubeDindException>(() =>
            ExistingCluster.ConnectAsync(new ExistingClusterSettings { Kubeconfig = missing }, new CapturingLog(), Ct));

        Assert.Equal($"connect: kubeconfig '{missing}' (from ExistingClusterSettings.Kubeconfig) does not exist; pass the path of the cluster's kubeconfig file.", error.Message);
    }

    [Fact]
    public async Task A_file_that_is_not_a_kubeconfig_is_named()
    {
        var path = Path.Combine(_directory, "broken.yaml");
        await File.WriteAllTextAsync(path, "clusters: [this is: not: yaml", Ct);

        var error = await Assert.ThrowsAsync<KubeDindException>(() =>
            ExistingCluster.ConnectAsync(new ExistingClusterSettings { Kubeconfig = path }, new CapturingLog(), Ct));

        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith($"connect: kubeconfig '{path}' cannot be read: ", error.Message);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Two contexts on one server, no current-context; token auth so no certificates are needed.</summary>
    private string WriteKubeconfig(string server)
    {
        var path = Path.Combine(_directory, "kubeconfig.yaml");
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: c
              cluster:
                server: {server}
                insecure-skip-tls-verify: true
            users:
            - name: u
              user:
                token: not-a-real-token
            contexts:
            - name: ci
              context: {"{"}cluster: c, user: u{"}"}
            - name: other
              context: {"{"}cluster: c, user: u{"}"}
            """);
        return path;
    }
}
