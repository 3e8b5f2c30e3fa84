using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Mirror;
using KubeDind.Run;

namespace Cake.KubeDind.Tests.Fakes;

/// <summary>A fake of the core's run steps: records each step into the fake core's calls; fails the step named <see cref="FailAt"/>.</summary>
internal sealed class FakeRunSteps(List<(string Step, object? Argument)> calls) : IKubeDindRunSteps
{
    public string? FailAt { get; init; }

    public KubeDindCluster? Cluster => null;

    public RunTimeline? Timeline => null;

    public IReadOnlyDictionary<string, string> PushedImages { get; } = new Dictionary<string, string>();

    public Task<KubeDindMirror> StartMirrorAsync(MirrorSettings settings, CancellationToken cancellationToken) => Answer("StartMirror", settings, FakeKubeDindCore.Mirror);

    public Task<KubeDindEndpoints> StartClusterAsync(ClusterSettings settings, CancellationToken cancellationToken) =>
        Answer("StartCluster", settings, new KubeDindEndpoints("kdt-cluster", "/tmp/kubeconfig", "127.0.0.1:40001", "localhost:5000"));

    public Task<KubeDindEndpoints> ConnectAsync(ExistingClusterSettings settings, CancellationToken cancellationToken) =>
        Answer("Connect", settings, new KubeDindEndpoints("kdt-existing", settings.Kubeconfig, string.Empty, string.Empty));

    public Task BuildImageAsync(KubeDindImage image, CancellationToken cancellationToken) => Answer("BuildImage", image, true);

    public Task<string> PushImageAsync(KubeDindImage image, CancellationToken cancellationToken) => Answer("PushImage", image, "localhost:5000/" + image.Tag);

    public Task DeployAsync(DeploySettings settings, CancellationToken cancellationToken) => Answer("Deploy", settings, true);

    public Task<string?> CollectDiagnosticsAsync(CancellationToken cancellationToken) => Answer<string?>("CollectDiagnostics", null, "/work/repo/artifacts/kubedind/kdt-cluster/diagnostics");

    public Task TeardownAsync(bool keep, CancellationToken cancellationToken) => Answer("Teardown", keep, true);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private Task<T> Answer<T>(string step, object? argument, T result)
    {
        calls.Add((step, argument));
        return step == FailAt ? Task.FromException<T>(new KubeDindException($"{step} failed on purpose")) : Task.FromResult(result);
    }
}
