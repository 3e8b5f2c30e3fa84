using System.Runtime.CompilerServices;
using Cake.Core;
using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Docker;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Mirror;
using KubeDind.Run;

namespace Cake.KubeDind;

/// <summary>
/// The real core behind the aliases. One <see cref="KubeDindSession"/> per Cake context: every step of a
/// build shares one Docker connection, one run id (on every resource it creates) and Cake's log.
/// </summary>
internal sealed class KubeDindCore : IKubeDindCore
{
    public static readonly KubeDindCore Instance = new();

    private readonly ConditionalWeakTable<ICakeContext, KubeDindSession> _sessions = new();
    private readonly SemaphoreSlim _connecting = new(1, 1);

    public async Task<KubeDindMirror> StartMirrorAsync(ICakeContext context, MirrorSettings settings, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(context, cancellationToken).ConfigureAwait(false);
        return await session.StartMirrorAsync(settings, cancellationToken).ConfigureAwait(false);
    }

    public async Task<KubeDindCluster> StartClusterAsync(ICakeContext context, ClusterSettings settings, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(context, cancellationToken).ConfigureAwait(false);
        return await session.StartClusterAsync(settings, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string> BuildImageAsync(ICakeContext context, KubeDindImage settings, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(context, cancellationToken).ConfigureAwait(false);
        return await session.BuildImageAsync(settings, cancellationToken).ConfigureAwait(false);
    }

    public Task<string> PushImageAsync(ICakeContext context, KubeDindCluster cluster, string image, string? name, CancellationToken cancellationToken) =>
        cluster.PushImageAsync(image, name, cancellationToken);

    public Task<string> LoadImageAsync(ICakeContext context, KubeDindCluster cluster, string image, CancellationToken cancellationToken) =>
        cluster.LoadImageAsync(image, cancellationToken);

    public Task<DeployResult> DeployAsync(ICakeContext context, KubeDindCluster cluster, DeploySettings settings, CancellationToken cancellationToken) =>
        cluster.DeployAsync(settings, cancellationToken);

    public Task<DiagnosticsBundle> CollectDiagnosticsAsync(ICakeContext context, KubeDindCluster cluster, CancellationToken cancellationToken) =>
        cluster.CollectDiagnosticsAsync(cancellationToken);

    public Task<ServiceEndpoint> OpenServiceAsync(ICakeContext context, KubeDindCluster cluster, string service, string port, KubeDindServiceSettings settings, CancellationToken cancellationToken) =>
        cluster.OpenServiceAsync(service, port, settings.Namespace ?? "default", settings.Scheme, cancellationToken: cancellationToken);

    public Task<WorkloadLogs> ReadLogsAsync(ICakeContext context, KubeDindCluster cluster, string kind, string name, KubeDindLogsSettings settings, CancellationToken cancellationToken) =>
        cluster.ReadLogsAsync(kind, name, settings.Namespace, settings.TailLines, cancellationToken);

    public Task<JobRunResult> RunJobAsync(ICakeContext context, KubeDindCluster cluster, JobRunSettings settings, CancellationToken cancellationToken) =>
        cluster.RunJobAsync(settings, cancellationToken);

    public Task TeardownAsync(ICakeContext context, KubeDindCluster cluster, TeardownSettings settings, CancellationToken cancellationToken) =>
        cluster.TeardownAsync(settings, cancellationToken);

    public async Task<ExistingCluster> ConnectAsync(ICakeContext context, ExistingClusterSettings settings, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(context, cancellationToken).ConfigureAwait(false);
        return await session.ConnectClusterAsync(settings, cancellationToken).ConfigureAwait(false);
    }

    public async Task<SweepResult> SweepAsync(ICakeContext context, SweepSettings settings, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(context, cancellationToken).ConfigureAwait(false);
        return await session.SweepAsync(settings, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IKubeDindRunSteps> RunStepsAsync(ICakeContext context, CancellationToken cancellationToken) =>
        SessionRunSteps.On(await SessionAsync(context, cancellationToken).ConfigureAwait(false));

    public RunTimeline Timeline(ICakeContext context) => _sessions.TryGetValue(context, out var session) ? session.Timeline : new RunTimeline();

    private async Task<KubeDindSession> SessionAsync(ICakeContext context, CancellationToken cancellationToken)
    {
        if (_sessions.TryGetValue(context, out var session))
        {
            return session;
        }

        await _connecting.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_sessions.TryGetValue(context, out session))
            {
                return session;
            }

            // DOCKER_HOST and KUBEDIND_HOST_OVERRIDE through Cake's environment, so a script (or a test's fake context) can choose the engine.
            var engine = DockerEndpoint.Resolve(environment: context.Environment.GetEnvironmentVariable);
            session = await KubeDindSession.ConnectAsync(engine, new CakeKubeDindLog(context.Log), cancellationToken).ConfigureAwait(false);
            _sessions.AddOrUpdate(context, session);
            return session;
        }
        finally
        {
            _connecting.Release();
        }
    }
}
