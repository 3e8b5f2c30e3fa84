using System.Runtime.CompilerServices;
using Cake.Core;
using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Docker;
using KubeDind.Mirror;

namespace Cake.KubeDind;

/// <summary>
/// The real core behind the aliases. One <see cref="KubeDindSession"/> per Cake context: every step of a
/// build shares one Docker connection, one run id (on every resource it creates) and Cake's log.
/// </summary>
internal sealed class KubeDindCore : IKubeDindCore
{
    public static readonly KubeDindCore Instance = new();

    private static readonly string[] ClusterLogs = ["k3s", "dockerd", "registry"];
    private readonly ConditionalWeakTable<ICakeContext, KubeDindSession> _sessions = new();
    private readonly SemaphoreSlim _connecting = new(1, 1);

    public async Task<MirrorEndpoints> StartMirrorAsync(ICakeContext context, MirrorSettings settings, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(context, cancellationToken).ConfigureAwait(false);
        return await session.StartMirrorAsync(settings, cancellationToken).ConfigureAwait(false);
    }

    public async Task<KubeDindCluster> StartClusterAsync(ICakeContext context, ClusterSettings settings, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(context, cancellationToken).ConfigureAwait(false);
        return await session.StartClusterAsync(settings, cancellationToken).ConfigureAwait(false);
    }

    public async Task<string> BuildImageAsync(ICakeContext context, ImageBuildRequest request, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(request.ContextDirectory))
        {
            throw new KubeDindException($"KubeDindBuildImage: context directory '{request.ContextDirectory}' does not exist; build or publish into it first.");
        }

        var dockerfile = request.Dockerfile ?? Path.Combine(request.ContextDirectory, "Dockerfile");
        if (!File.Exists(dockerfile))
        {
            throw new KubeDindException($"KubeDindBuildImage: no Dockerfile at '{dockerfile}'; put one in the context or set Dockerfile.");
        }

        var session = await SessionAsync(context, cancellationToken).ConfigureAwait(false);
        var buildContext = BuildContext.FromDirectory(request.ContextDirectory).AddFile("Dockerfile", dockerfile);
        var buildArgs = new Dictionary<string, string>(request.BuildArgs, StringComparer.Ordinal);
        if (request.FillBaseImage)
        {
            buildArgs[ImageBuildRequest.BaseImageArgument] = await new BaseImage(session.Docker, session.Log).EnsureAsync(cancellationToken).ConfigureAwait(false);
        }

        await new ImageStore(session.Docker, session.Log).BuildAsync(buildContext, request.Tag, buildArgs, new Dictionary<string, string>(request.Labels), cancellationToken).ConfigureAwait(false);
        return request.Tag;
    }

    public Task<string> PushImageAsync(ICakeContext context, KubeDindCluster cluster, string image, string? name, CancellationToken cancellationToken) =>
        cluster.PushImageAsync(image, name, cancellationToken);

    public Task<string> LoadImageAsync(ICakeContext context, KubeDindCluster cluster, string image, CancellationToken cancellationToken) =>
        cluster.LoadImageAsync(image, cancellationToken);

    public Task<DeployResult> DeployAsync(ICakeContext context, KubeDindCluster cluster, DeploySettings settings, string artifactsDirectory, CancellationToken cancellationToken)
    {
        cluster.ThrowIfTornDownForCake();
        return DeployStep.RunAsync(cluster.Kubernetes, settings, DeployContextFor(context, cluster, artifactsDirectory), cancellationToken);
    }

    public Task<DiagnosticsBundle> CollectDiagnosticsAsync(ICakeContext context, KubeDindCluster cluster, string artifactsDirectory, CancellationToken cancellationToken)
    {
        cluster.ThrowIfTornDownForCake();
        return DeployStep.CollectDiagnosticsAsync(cluster.Kubernetes, DeployContextFor(context, cluster, artifactsDirectory), cancellationToken);
    }

    public Task<ServiceEndpoint> OpenServiceAsync(ICakeContext context, KubeDindCluster cluster, string service, string port, KubeDindServiceSettings settings, CancellationToken cancellationToken)
    {
        cluster.ThrowIfTornDownForCake();
        var access = new ServiceAccess(cluster.Kubernetes, cluster.PublishedPorts, HostOf(cluster), new CakeKubeDindLog(context.Log));
        return access.OpenAsync(service, port, settings.Namespace, settings.Scheme, settings.Timeout, cancellationToken);
    }

    public Task TeardownAsync(ICakeContext context, KubeDindCluster cluster, TeardownSettings settings, CancellationToken cancellationToken) =>
        cluster.TeardownAsync(settings, cancellationToken);

    public async Task<SweepResult> SweepAsync(ICakeContext context, SweepSettings settings, CancellationToken cancellationToken)
    {
        var session = await SessionAsync(context, cancellationToken).ConfigureAwait(false);
        return await session.SweepAsync(settings, cancellationToken).ConfigureAwait(false);
    }

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

            // DOCKER_HOST through Cake's environment, so a script (or a test's fake context) can choose the engine.
            var dockerHost = context.Environment.GetEnvironmentVariable("DOCKER_HOST");
            var endpoint = string.IsNullOrWhiteSpace(dockerHost) ? null : new Uri(dockerHost);
            session = await KubeDindSession.ConnectAsync(new CakeKubeDindLog(context.Log), endpoint, cancellationToken).ConfigureAwait(false);
            _sessions.AddOrUpdate(context, session);
            return session;
        }
        finally
        {
            _connecting.Release();
        }
    }

    private static DeployContext DeployContextFor(ICakeContext context, KubeDindCluster cluster, string artifactsDirectory) => new()
    {
        ClusterName = cluster.Name,
        ArtifactsDirectory = artifactsDirectory,
        Log = new CakeKubeDindLog(context.Log),
        PushedImages = cluster.Images,
        ExtraLogs = cancellationToken => ClusterProcessLogsAsync(cluster, cancellationToken),
    };

    /// <summary>The last lines of the cluster's own processes (k3s, inner dockerd, registry), for the diagnostics bundle.</summary>
    private static async Task<IReadOnlyDictionary<string, string>> ClusterProcessLogsAsync(KubeDindCluster cluster, CancellationToken cancellationToken)
    {
        var logs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in ClusterLogs)
        {
            var result = await cluster.ExecAsync(["tail", "-n", "500", $"/var/log/kubedind/{name}.log"], null, cancellationToken).ConfigureAwait(false);
            if (result.Succeeded)
            {
                logs[name] = result.StandardOutput;
            }
        }

        return logs;
    }

    private static string HostOf(KubeDindCluster cluster)
    {
        // The registry endpoint names the address the cluster's ports are published on ("127.0.0.1:41234").
        var endpoint = cluster.RegistryHostEndpoint;
        var colon = endpoint.LastIndexOf(':');
        return colon > 0 ? endpoint[..colon] : endpoint;
    }
}

internal static class KubeDindClusterCakeExtensions
{
    /// <summary>Deploy, diagnostics and service access read the per-run kubeconfig, which teardown deletes.</summary>
    public static void ThrowIfTornDownForCake(this KubeDindCluster cluster)
    {
        if (cluster.KubeconfigPath is { } kubeconfig && !File.Exists(kubeconfig))
        {
            throw new KubeDindException($"cluster {cluster.Name}: its kubeconfig {kubeconfig} is gone (torn down?); start a new cluster.");
        }
    }
}
