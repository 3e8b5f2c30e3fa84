using System.Net.Http.Json;
using k8s;
using KubeDind.Testing;

namespace ExampleApp.Tests;

/// <summary>The deployed example app, called from the test through its Service, as its users reach it.</summary>
// snippet: tests
[Collection(nameof(ExampleAppSystem))]
[KubeDindDiagnostics]
public sealed class SystemTests(ExampleAppCluster cluster)
{
    [Fact]
    public async Task The_deployed_app_greets_with_the_text_from_its_ConfigMap()
    {
        using var http = new HttpClient { BaseAddress = cluster.ServiceUrl("example-app") };

        var greeting = await http.GetFromJsonAsync<Greeting>("greeting?name=KubeDind", TestContext.Current.CancellationToken);

        Assert.NotNull(greeting);
        Assert.Equal("Greetings from the KubeDind ConfigMap, KubeDind!", greeting.Message);
        Assert.Equal("GREETING", greeting.Source);
    }
    // end snippet: tests

    [Fact]
    public async Task The_app_runs_the_image_pushed_in_this_run()
    {
        var pods = await cluster.Kubernetes.CoreV1.ListNamespacedPodAsync("default", labelSelector: "app=example-app", cancellationToken: TestContext.Current.CancellationToken);

        var pod = Assert.Single(pods.Items);
        Assert.Equal(cluster.Images["kubedind-example-app:dev"], pod.Spec.Containers[0].Image);
        Assert.True(File.Exists(cluster.KubeconfigPath));
    }
}
