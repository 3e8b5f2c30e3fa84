using Cake.Core;
using Cake.Core.IO;
using Cake.KubeDind.Tests.Fakes;
using KubeDind;
using KubeDind.Existing;

namespace Cake.KubeDind.Tests;

/// <summary>KubeDindConnect: what reaches the core, and the real core's one-line errors for a bad context (no cluster needed).</summary>
public sealed class ConnectAliasTests
{
    [Fact]
    public async Task Connect_hands_the_core_an_absolute_kubeconfig_and_the_context()
    {
        var context = new FakeCakeContext("/work/repo");
        var core = new FakeKubeDindCore();
        KubeDindAliases.UseCore(context, core);

        await context.KubeDindConnect(new FilePath("ci/staging.kubeconfig"), "staging");
        await context.KubeDindConnect(new KubeDindConnectSettings().WithThrowawayNamespace().WithRegistry("127.0.0.1:5001/team", "registry.internal/team").WithConnectTimeout(TimeSpan.FromSeconds(3)));

        var first = Assert.IsType<ExistingClusterSettings>(core.Calls[0].Argument);
        Assert.Equal(("/work/repo/ci/staging.kubeconfig", "staging", false), (first.Kubeconfig, first.Context, first.ThrowawayNamespace));
        Assert.Equal("/work/repo/artifacts/kubedind", first.ArtifactsDirectory);
        var second = Assert.IsType<ExistingClusterSettings>(core.Calls[1].Argument);
        Assert.Equal((null, true, "127.0.0.1:5001/team", "registry.internal/team"), (second.Kubeconfig, second.ThrowawayNamespace, second.Registry, second.RegistryPullName));
        Assert.Equal(TimeSpan.FromSeconds(3), second.ConnectTimeout);
    }

    [Fact]
    public async Task The_real_core_names_a_missing_context_in_one_line()
    {
        var directory = Directory.CreateTempSubdirectory("kdt-cake-connect-");
        try
        {
            var kubeconfig = System.IO.Path.Combine(directory.FullName, "kubeconfig.yaml");
            await File.WriteAllTextAsync(kubeconfig, "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: ci, context: {cluster: c, user: u}}]\n", TestContext.Current.CancellationToken);
            var context = new FakeCakeContext(directory.FullName);

            var error = await Assert.ThrowsAsync<CakeException>(() => context.KubeDindConnect(new FilePath("kubeconfig.yaml"), "prod"));

            Assert.Equal($"connect: context 'prod' is not in kubeconfig '{kubeconfig}' (it has 'ci'); pass one of those.", error.Message);
            Assert.IsType<KubeDindException>(error.InnerException);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
