using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Mirror;
using KubeDind.Run;

namespace KubeDind.Tests.Fakes;

/// <summary>
/// A fake of the Docker-backed run steps (the plan's decisions are under test, not Docker): records each step's name
/// and argument; <see cref="HangAt"/> makes that step wait until cancelled.
/// </summary>
internal sealed class RecordingRunSteps : IKubeDindRunSteps
{
    public List<(string Step, object? Argument)> Calls { get; } = [];

    public string? HangAt { get; init; }

    public KubeDindCluster? Cluster => null;

    /// <summary>A real timeline: each step records its phase with no time, so a test sees the plan print it.</summary>
    public RunTimeline Timeline { get; } = new();

    public IReadOnlyDictionary<string, string> PushedImages { get; } = new Dictionary<string, string>();

    public Task<KubeDindMirror> StartMirrorAsync(MirrorSettings settings, CancellationToken cancellationToken) =>
        RecordAsync("StartMirror", settings, new KubeDindMirror(settings.Name, [new MirrorEndpoints("docker.io", MirrorSettings.DockerHub, "id", "m-docker-io", "http://127.0.0.1:40000", "http://m-docker-io:5000", "kubedind", Reused: true)], DateTimeOffset.UtcNow), cancellationToken);

    public Task<KubeDindEndpoints> StartClusterAsync(ClusterSettings settings, CancellationToken cancellationToken) =>
        RecordAsync("StartCluster", settings, new KubeDindEndpoints("c", "/tmp/kubeconfig", "127.0.0.1:40001", "localhost:5000"), cancellationToken);

    public Task<KubeDindEndpoints> ConnectAsync(ExistingClusterSettings settings, CancellationToken cancellationToken) =>
        RecordAsync("Connect", settings, new KubeDindEndpoints("existing", settings.Kubeconfig, string.Empty, string.Empty), cancellationToken);

    public Task BuildImageAsync(KubeDindImage image, CancellationToken cancellationToken) => RecordAsync("BuildImage", image, true, cancellationToken);

    public Task<string> PushImageAsync(KubeDindImage image, CancellationToken cancellationToken) => RecordAsync("PushImage", image, "localhost:5000/" + image.Tag, cancellationToken);

    public Task DeployAsync(DeploySettings settings, CancellationToken cancellationToken) => RecordAsync("Deploy", settings, true, cancellationToken);

    public Task<string?> CollectDiagnosticsAsync(CancellationToken cancellationToken) => RecordAsync<string?>("CollectDiagnostics", null, "/tmp/diagnostics", cancellationToken);

    public Task TeardownAsync(bool keep, CancellationToken cancellationToken) => RecordAsync("Teardown", keep, true, cancellationToken);

    public ValueTask DisposeAsync()
    {
        Calls.Add(("Dispose", null));
        return ValueTask.CompletedTask;
    }

    private async Task<T> RecordAsync<T>(string step, object? argument, T result, CancellationToken cancellationToken)
    {
        Calls.Add((step, argument));
        if (step == HangAt)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        RunPhase? phase = step switch
        {
            "StartMirror" => RunPhase.Mirror,
            "StartCluster" => RunPhase.Start,
            "BuildImage" => RunPhase.Build,
            "PushImage" => RunPhase.Push,
            "Deploy" => RunPhase.Deploy,
            "Teardown" when argument is false => RunPhase.Teardown,
            _ => null,
        };
        if (phase is { } recorded)
        {
            Timeline.Record(recorded, DateTimeOffset.UtcNow, TimeSpan.Zero);
        }

        return result;
    }
}
