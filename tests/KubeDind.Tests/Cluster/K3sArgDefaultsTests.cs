namespace KubeDind.Tests.Cluster;

/// <summary>
/// The k3s arguments the image's kubernetes.sh adds where the user sets none (run by bash and jq in a temporary
/// directory, no Docker): the kubelet's API rate only on k3s before 1.27, whose kubelet defaults to a tenth of the rate
/// 1.27 made its default, and kube-proxy's sync period on every version; never over what the user's k3s arguments set.
/// The running kubelet's and kube-proxy's settings are checked on real clusters (KubeletConfig, KubeProxyConfig).
/// </summary>
public sealed class K3sArgDefaultsTests
{
    [Theory]
    [InlineData("v1.21.2+k3s1", "{}", "--kubelet-arg=kube-api-qps=50 --kubelet-arg=kube-api-burst=100")]
    [InlineData("v1.26.15+k3s1", """{"kubelet-arg": ["v=2"]}""", "--kubelet-arg=kube-api-qps=50 --kubelet-arg=kube-api-burst=100")]
    [InlineData("v1.21.2+k3s1", """{"kubelet-arg": ["kube-api-burst=77"]}""", "--kubelet-arg=kube-api-qps=50")]
    [InlineData("v1.21.2+k3s1", """{"kubelet-arg": "--kube-api-qps=9"}""", "--kubelet-arg=kube-api-burst=100")]
    [InlineData("v1.27.1+k3s1", "{}", "")]
    [InlineData("v1.33.7+k3s1", "{}", "")]
    public async Task Only_k3s_before_1_27_gets_the_kubelet_rate_and_only_what_the_user_did_not_set(string k3sVersion, string config, string expected) =>
        Assert.Equal(expected, await RunAsync("kubelet_api_rate", k3sVersion, config));

    [Theory]
    [InlineData("v1.21.2+k3s1", "{}", "--kube-proxy-arg=iptables-min-sync-period=100ms")]
    [InlineData("v1.33.7+k3s1", """{"kube-proxy-arg": ["v=2"], "kubelet-arg": ["iptables-min-sync-period=5s"]}""", "--kube-proxy-arg=iptables-min-sync-period=100ms")]
    [InlineData("v1.21.2+k3s1", """{"kube-proxy-arg": ["--iptables-min-sync-period=2s"]}""", "")]
    [InlineData("v1.33.7+k3s1", """{"kube-proxy-arg": "iptables-min-sync-period=0s"}""", "")]
    public async Task Kube_proxy_gets_its_sync_period_unless_the_user_set_one(string k3sVersion, string config, string expected) =>
        Assert.Equal(expected, await RunAsync("kube_proxy_sync_period", k3sVersion, config));

    /// <summary>What <paramref name="function"/> of kubernetes.sh adds to an empty argument list, given the k3s version and config.yaml.</summary>
    private static async Task<string> RunAsync(string function, string k3sVersion, string config)
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("kdt-k3s-args-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(directory, "k3s-dist"));
            await File.WriteAllTextAsync(Path.Combine(directory, "k3s-dist", "version"), k3sVersion + "\n", ct);
            await File.WriteAllTextAsync(Path.Combine(directory, "config.yaml"), config, ct);
            var (exitCode, stdout, stderr) = await ImageScript.RunAsync(
                "source \"$1\"; KUBEDIND_LIB=\"$2\"; K3S_CONFIG=\"$2/config.yaml\"; args=(); \"$3\" args; echo \"${args[*]}\"",
                [ImageScript.PathOf("kubernetes.sh"), directory, function]);

            Assert.True(exitCode == 0, $"{function} failed (exit {exitCode}): {stderr}");
            return stdout.Trim();
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
