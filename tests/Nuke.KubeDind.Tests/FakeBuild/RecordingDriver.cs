using System.Text.Json;
using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Mirror;
using KubeDind.Run;

namespace Nuke.KubeDind.FakeBuild;

/// <summary>
/// A fake of the core's Docker-backed run steps: appends one JSON line per call to $KUBEDIND_FAKE_RECORD and
/// throws a KubeDindException in the step named by $KUBEDIND_FAKE_FAIL.
/// </summary>
internal sealed class RecordingDriver : IKubeDindRunSteps
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };
    private readonly string _record = Environment.GetEnvironmentVariable("KUBEDIND_FAKE_RECORD") ?? Path.Combine(Path.GetTempPath(), "kubedind-fake.jsonl");
    private readonly string? _fail = Environment.GetEnvironmentVariable("KUBEDIND_FAKE_FAIL");
    private readonly string? _hang = Environment.GetEnvironmentVariable("KUBEDIND_FAKE_HANG");

    private readonly Dictionary<string, string> _pushed = new(StringComparer.Ordinal);

    public KubeDindCluster? Cluster => null;

    public RunTimeline? Timeline => null;

    public IReadOnlyDictionary<string, string> PushedImages => _pushed;

    public Task<KubeDindMirror> StartMirrorAsync(MirrorSettings settings, CancellationToken cancellationToken)
    {
        Record("StartMirror", settings);
        var name = $"{settings.Name}-docker-io";
        return Task.FromResult(new KubeDindMirror(settings.Name, [new MirrorEndpoints("docker.io", MirrorSettings.DockerHub, "mirror-id", name, "http://127.0.0.1:41234", $"http://{name}:5000", "kubedind", Reused: false)], DateTimeOffset.UtcNow));
    }

    public Task<KubeDindEndpoints> StartClusterAsync(ClusterSettings settings, CancellationToken cancellationToken)
    {
        Record("StartCluster", settings);
        foreach (var image in settings.ImagesToPush)
        {
            _pushed[image] = "localhost:5000/" + image;
        }

        return Task.FromResult(new KubeDindEndpoints(settings.Name ?? "unnamed", "/tmp/fake-kubeconfig.yaml", "127.0.0.1:41235", "localhost:5000"));
    }

    public Task<KubeDindEndpoints> ConnectAsync(ExistingClusterSettings settings, CancellationToken cancellationToken)
    {
        Record("Connect", settings);
        return Task.FromResult(new KubeDindEndpoints(settings.Context ?? "current", settings.Kubeconfig, settings.Registry ?? string.Empty, settings.Registry ?? string.Empty));
    }

    public Task BuildImageAsync(KubeDindImage image, CancellationToken cancellationToken)
    {
        Record("BuildImage", new { image.Tag, Context = image.ContextDirectory });
        return Task.CompletedTask;
    }

    public Task<string> PushImageAsync(KubeDindImage image, CancellationToken cancellationToken)
    {
        Record("PushImage", new { image.Tag, Context = image.ContextDirectory });
        return Task.FromResult(_pushed[image.Tag] = "localhost:5000/" + image.Tag);
    }

    public async Task DeployAsync(DeploySettings settings, CancellationToken cancellationToken)
    {
        Record("Deploy", new { settings });
        if (_hang == "Deploy")
        {
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Record("DeployCancelled", new { });
                throw;
            }
        }
    }

    public Task<string?> CollectDiagnosticsAsync(CancellationToken cancellationToken)
    {
        Record("CollectDiagnostics", new { });
        return Task.FromResult<string?>(Path.Combine("artifacts", "kubedind", "fake-cluster"));
    }

    public Task TeardownAsync(bool keep, CancellationToken cancellationToken)
    {
        Record("Teardown", new { keep });
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        Record("Dispose", new { });
        return ValueTask.CompletedTask;
    }

    public void Record(string step, object payload)
    {
        File.AppendAllText(_record, JsonSerializer.Serialize(new { step, payload }, Json) + "\n");
        if (string.Equals(_fail, step, StringComparison.Ordinal))
        {
            throw new KubeDindException($"{step} failed on purpose (KUBEDIND_FAKE_FAIL={step})");
        }
    }
}
