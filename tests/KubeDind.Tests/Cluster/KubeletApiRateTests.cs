namespace KubeDind.Tests.Cluster;

/// <summary>
/// The kubelet flags the image's kubernetes.sh adds for the API rate (run by bash and jq in a temporary directory, no
/// Docker): only k3s before 1.27, whose kubelet defaults to a tenth of the rate 1.27 made its default, and never over
/// a rate the user's kubelet-arg sets. The running kubelet's rate is checked on real clusters (KubeletConfig).
/// </summary>
public sealed class KubeletApiRateTests
{
    [Theory]
    [InlineData("v1.21.2+k3s1", "{}", "--kubelet-arg=kube-api-qps=50 --kubelet-arg=kube-api-burst=100")]
    [InlineData("v1.26.15+k3s1", """{"kubelet-arg": ["v=2"]}""", "--kubelet-arg=kube-api-qps=50 --kubelet-arg=kube-api-burst=100")]
    [InlineData("v1.21.2+k3s1", """{"kubelet-arg": ["kube-api-burst=77"]}""", "--kubelet-arg=kube-api-qps=50")]
    [InlineData("v1.21.2+k3s1", """{"kubelet-arg": "--kube-api-qps=9"}""", "--kubelet-arg=kube-api-burst=100")]
    [InlineData("v1.27.1+k3s1", "{}", "")]
    [InlineData("v1.33.7+k3s1", "{}", "")]
    public async Task Only_k3s_before_1_27_gets_the_rate_and_only_what_the_user_did_not_set(string k3sVersion, string config, string expected)
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("kdt-kubelet-rate-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(directory, "k3s-dist"));
            await File.WriteAllTextAsync(Path.Combine(directory, "k3s-dist", "version"), k3sVersion + "\n", ct);
            await File.WriteAllTextAsync(Path.Combine(directory, "config.yaml"), config, ct);
            var (exitCode, stdout, stderr) = await ImageScript.RunAsync(
                "source \"$1\"; KUBEDIND_LIB=\"$2\"; K3S_CONFIG=\"$2/config.yaml\"; args=(); kubelet_api_rate args; echo \"${args[*]}\"",
                [ImageScript.PathOf("kubernetes.sh"), directory]);

            Assert.True(exitCode == 0, $"kubelet_api_rate failed (exit {exitCode}): {stderr}");
            Assert.Equal(expected, stdout.Trim());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
