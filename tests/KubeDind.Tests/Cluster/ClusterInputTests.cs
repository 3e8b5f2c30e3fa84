using KubeDind.Cluster;

namespace KubeDind.Tests.Cluster;

/// <summary>Bad StartCluster inputs caught before anything is created, each in one line naming the input.</summary>
public sealed class ClusterInputTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("bad name")]
    [InlineData("-starts-with-a-dash")]
    [InlineData("slash/in/it")]
    public async Task An_invalid_cluster_name_is_one_line(string name)
    {
        using var session = await KubeDindSession.ConnectAsync(new CapturingLog(), cancellationToken: Ct);
        var error = await Assert.ThrowsAsync<KubeDindException>(() => session.StartClusterAsync(ClusterTestSupport.ComposeSettings("name") with { Name = name, SweepFirst = false }, Ct));
        output.WriteLine(error.Message);
        Assert.Equal($"cluster name '{name}' is not a valid container name; use letters, digits, '.', '_' or '-', starting with a letter or digit.", error.Message);
    }

    [Fact]
    public async Task An_unwritable_artifacts_directory_is_one_line_before_anything_is_created()
    {
        using var session = await KubeDindSession.ConnectAsync(new CapturingLog(), cancellationToken: Ct);

        // A directory under a regular file cannot be made, even by root (file modes would not stop root).
        var file = Path.GetTempFileName();
        var artifacts = Path.Combine(file, "artifacts");
        try
        {
            var settings = ClusterTestSupport.ComposeSettings("artifacts") with { ArtifactsDirectory = artifacts, SweepFirst = false };
            var before = await EngineInventory.TakeAsync(session.Docker);
            var error = await Assert.ThrowsAsync<KubeDindException>(() => session.StartClusterAsync(settings, Ct));
            output.WriteLine(error.Message);
            Assert.StartsWith($"cluster {settings.Name}: artifacts directory '{artifacts}' cannot be written (", error.Message, StringComparison.Ordinal);
            Assert.EndsWith("); set ArtifactsDirectory to a writable directory (diagnostics and the kubeconfig go there).", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', error.Message);
            Assert.Empty(before.NewIn(await EngineInventory.TakeAsync(session.Docker), session.RunId));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_start_that_fails_leaves_junit_results_with_its_one_line_cause_where_the_kubeconfig_would_be()
    {
        using var session = await KubeDindSession.ConnectAsync(new CapturingLog(), cancellationToken: Ct);
        var kubeconfigs = Path.Combine(Path.GetTempPath(), "kdt-results-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var settings = ClusterTestSupport.ComposeSettings("results") with { RegistryHostPort = 70000, KubeconfigDirectory = kubeconfigs, SweepFirst = false };
            var error = await Assert.ThrowsAsync<KubeDindException>(() => session.StartClusterAsync(settings, Ct));

            var results = System.Xml.Linq.XDocument.Load(Path.Combine(kubeconfigs, $"{settings.Name}.kubedind-results.xml"));
            var start = Assert.Single(results.Descendants("testcase"));
            Assert.Equal("StartCluster", (string?)start.Attribute("name"));
            Assert.Equal(error.Message, (string?)start.Element("failure")?.Attribute("message"));
        }
        finally
        {
            if (Directory.Exists(kubeconfigs))
            {
                Directory.Delete(kubeconfigs, recursive: true);
            }
        }
    }
}
