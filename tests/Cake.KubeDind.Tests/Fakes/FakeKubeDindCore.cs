using System.Runtime.CompilerServices;
using Cake.Core;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Mirror;
using KubeDind.Run;

namespace Cake.KubeDind.Tests.Fakes;

/// <summary>A fake core: records what each alias handed it, answers with canned results, or throws <see cref="Failure"/>.</summary>
internal sealed class FakeKubeDindCore : IKubeDindCore
{
    public static readonly KubeDindMirror Mirror = new(
        "kdt-mirror",
        [new("docker.io", MirrorSettings.DockerHub, "c0ffee", "kdt-mirror-docker-io", "http://127.0.0.1:40000", "http://kdt-mirror-docker-io:5000", "kubedind", Reused: false)],
        DateTimeOffset.UtcNow);

    public List<(string Step, object? Argument)> Calls { get; } = [];

    public Exception? Failure { get; set; }

    /// <summary>A KubeDindCluster object for aliases that take one; the fake core never touches it.</summary>
    public static KubeDindCluster Cluster() => (KubeDindCluster)RuntimeHelpers.GetUninitializedObject(typeof(KubeDindCluster));

    public Task<KubeDindMirror> StartMirrorAsync(ICakeContext context, MirrorSettings settings, CancellationToken cancellationToken) => Answer("StartMirror", settings, Mirror);

    public Task<KubeDindCluster> StartClusterAsync(ICakeContext context, ClusterSettings settings, CancellationToken cancellationToken) => Answer("StartCluster", settings, Cluster());

    public Task<string> BuildImageAsync(ICakeContext context, KubeDindImage settings, CancellationToken cancellationToken) => Answer("BuildImage", settings, settings.Tag);

    public Task<string> PushImageAsync(ICakeContext context, KubeDindCluster cluster, string image, string? name, CancellationToken cancellationToken) =>
        Answer("PushImage", (image, name), "localhost:5000/" + (name ?? image));

    public Task<string> LoadImageAsync(ICakeContext context, KubeDindCluster cluster, string image, CancellationToken cancellationToken) => Answer("LoadImage", image, image);

    public Task<DeployResult> DeployAsync(ICakeContext context, KubeDindCluster cluster, DeploySettings settings, CancellationToken cancellationToken) =>
        Answer("Deploy", settings, new DeployResult([], [], [], TimeSpan.FromSeconds(1)));

    public Task<DiagnosticsBundle> CollectDiagnosticsAsync(ICakeContext context, KubeDindCluster cluster, CancellationToken cancellationToken) =>
        Answer<DiagnosticsBundle>("CollectDiagnostics", null, WithReport(new DiagnosticsBundle("/work/repo/artifacts/kubedind/x/diagnostics", ["report.html"], [])));

    public Task<ServiceEndpoint> OpenServiceAsync(ICakeContext context, KubeDindCluster cluster, string service, string port, KubeDindServiceSettings settings, CancellationToken cancellationToken) =>
        Answer<ServiceEndpoint>("OpenService", (service, port, settings), null!);

    public Task TeardownAsync(ICakeContext context, KubeDindCluster cluster, TeardownSettings settings, CancellationToken cancellationToken) => Answer("Teardown", settings, true);

    public Task<WorkloadLogs> ReadLogsAsync(ICakeContext context, KubeDindCluster cluster, string kind, string name, KubeDindLogsSettings settings, CancellationToken cancellationToken) =>
        Answer("ReadLogs", (kind, name, settings.Namespace, settings.TailLines), new WorkloadLogs($"{kind} {settings.Namespace}/{name}", [new ContainerLog($"{name}-1", "app", false, "fake log\n")]));

    public Task<JobRunResult> RunJobAsync(ICakeContext context, KubeDindCluster cluster, JobRunSettings settings, CancellationToken cancellationToken) =>
        Answer("RunJob", settings, new JobRunResult(settings.Name ?? "job", settings.Namespace, true, 0, new WorkloadLogs("Job", []), TimeSpan.Zero));

    public Task<ExistingCluster> ConnectAsync(ICakeContext context, ExistingClusterSettings settings, CancellationToken cancellationToken) =>
        Answer("Connect", settings, (ExistingCluster)RuntimeHelpers.GetUninitializedObject(typeof(ExistingCluster)));

    /// <summary>The timeline the fake core answers KubeDindTimeline with.</summary>
    public RunTimeline RunTimeline { get; } = new();

    public RunTimeline Timeline(ICakeContext context) => RunTimeline;

    /// <summary>The step that fails in a run plan's steps; null = none.</summary>
    public string? RunStepFailure { get; set; }

    public Task<IKubeDindRunSteps> RunStepsAsync(ICakeContext context, CancellationToken cancellationToken) =>
        Task.FromResult<IKubeDindRunSteps>(new FakeRunSteps(Calls) { FailAt = RunStepFailure });

    public Task<SweepResult> SweepAsync(ICakeContext context, SweepSettings settings, CancellationToken cancellationToken) => Answer("Sweep", settings, new SweepResult([], []));

    private Task<T> Answer<T>(string step, object? argument, T result)
    {
        Calls.Add((step, argument));
        return Failure is null ? Task.FromResult(result) : Task.FromException<T>(Failure);
    }

    private static DiagnosticsBundle WithReport(DiagnosticsBundle bundle) => bundle with { ReportPath = bundle.Directory + "/report.html" };
}
