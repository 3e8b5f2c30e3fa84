using k8s;
using k8s.Models;
using KubeDind.Cluster;
using KubeDind.Deploy;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// The watches that wake the rollout and Job waits, against the shared real cluster (<see cref="RealClusterFixture"/>),
/// in a namespace of their own: a change in the namespace ends a pause long before its interval, and with none the
/// pause lasts its interval.
/// </summary>
public sealed class WorkloadChangesTests
{
    /// <summary>Far longer than any wake-up takes, so that a pause that ends early can only have been woken.</summary>
    private static readonly TimeSpan LongInterval = TimeSpan.FromMinutes(10);

    private readonly RealClusterFixture _fixture;

    public WorkloadChangesTests(RealClusterFixture fixture) => _fixture = fixture;

    private KubeDindCluster Cluster => _fixture.Cluster ?? throw new InvalidOperationException("no cluster");

    [Fact]
    public Task A_deployment_created_in_the_watched_namespace_ends_the_pause() =>
        InOwnNamespaceAsync(async (client, ns, ct) =>
        {
            await using var changes = WorkloadChanges.Start(client, [("Deployment", ns)], ct);
            await client.AppsV1.CreateNamespacedDeploymentAsync(Deployment(), ns, cancellationToken: ct);

            // Cancelled after two minutes only so that a missed wake-up fails the test instead of hanging it.
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bounded.CancelAfter(TimeSpan.FromMinutes(2));
            await changes.PauseAsync(LongInterval, bounded.Token);
        });

    [Fact]
    public Task Without_a_change_the_pause_lasts_its_interval() =>
        InOwnNamespaceAsync(async (client, ns, ct) =>
        {
            await using var changes = WorkloadChanges.Start(client, [("Job", ns)], ct);
            var interval = TimeSpan.FromSeconds(2);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            await changes.PauseAsync(interval, ct);
            Assert.True(watch.Elapsed >= interval - TimeSpan.FromMilliseconds(50), $"the pause ended after {watch.Elapsed.TotalSeconds:0.00}s with nothing changed");
        });

    /// <summary>Runs <paramref name="test"/> against the shared cluster in a namespace of its own, removed afterwards.</summary>
    private async Task InOwnNamespaceAsync(Func<IKubernetes, string, CancellationToken, Task> test)
    {
        SkipWithoutK3s();
        var ct = TestContext.Current.CancellationToken;
        var client = Cluster.Kubernetes;
        var ns = await CreateNamespaceAsync(client, ct);
        try
        {
            await test(client, ns, ct);
        }
        finally
        {
            await client.CoreV1.DeleteNamespaceAsync(ns, cancellationToken: CancellationToken.None);
        }
    }

    private static async Task<string> CreateNamespaceAsync(IKubernetes client, CancellationToken ct)
    {
        var ns = "kdt-changes-" + Guid.NewGuid().ToString("N")[..6];
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } }, cancellationToken: ct);
        return ns;
    }

    private static V1Deployment Deployment() => new()
    {
        Metadata = new V1ObjectMeta { Name = "changes" },
        Spec = new V1DeploymentSpec
        {
            Replicas = 0,
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = "changes" } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "changes" } },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "kubedind/none:0" }] },
            },
        },
    };

    private static void SkipWithoutK3s()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBEDIND_K3S_BINARY")))
        {
            Assert.Skip(KubeDind.Tests.Cluster.ClusterTestSupport.NoK3sReason);
        }
    }
}
