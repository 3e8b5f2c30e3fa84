using System.Collections.Concurrent;
using Docker.DotNet;
using k8s;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// The facts readiness checks share for one starting cluster: the container, its host endpoints, a
/// throttled <c>kubedind-ready</c> probe, the kubeconfig once k3s wrote it, and the first fatal failure seen.
/// </summary>
internal sealed class ClusterProbe
{
    /// <summary>kubedind-ready's first gate: every component started, none failed (and which components run).</summary>
    public const string Starting = "starting";

    private readonly CancellationTokenSource _fatal;
    private readonly Func<CancellationToken, Task<IKubernetes?>> _client;
    // Gates of one stage ask at once (ReadinessWaiter checks them side by side).
    private readonly ConcurrentDictionary<string, (InnerReadiness Result, DateTime At)> _inner = new(StringComparer.Ordinal);
    private InnerReadiness? _lastInner;

    public ClusterProbe(IDockerClient docker, string containerId, string registryHostEndpoint, string apiEndpoint, Func<CancellationToken, Task<IKubernetes?>> client, CancellationTokenSource fatal)
    {
        Docker = docker;
        ContainerId = containerId;
        RegistryHostEndpoint = registryHostEndpoint;
        ApiEndpoint = apiEndpoint;
        _client = client;
        _fatal = fatal;
    }

    public IDockerClient Docker { get; }

    public string ContainerId { get; }

    public string RegistryHostEndpoint { get; }

    public string ApiEndpoint { get; }

    public string? Fatal { get; private set; }

    public string? KubernetesVersion { get; set; }

    /// <summary>When the container started (engine clock): Kubernetes status older than this is from a restored state.</summary>
    public DateTimeOffset StartedAt { get; init; } = DateTimeOffset.MinValue;

    /// <summary>The container's addresses on its networks: the node in it must report one of them.</summary>
    public IReadOnlyList<string> Addresses { get; init; } = [];

    /// <summary>The container's address on the cluster's own network (k3s's node IP), when known.</summary>
    public string? Address { get; init; }

    public IKubeDindLog? Log { get; init; }

    /// <summary>The container's image, named in an error about its status document.</summary>
    public string Image { get; init; } = "kubedind/kube-dind";

    /// <summary>"cluster &lt;name&gt;", for log lines.</summary>
    public string Subject { get; init; } = "cluster";

    /// <summary>The components <c>kubedind-ready</c> last reported (empty before its first answer, and in compose mode).</summary>
    public IReadOnlyList<ClusterComponent> Components => _lastInner?.Components ?? [];

    public Task<IKubernetes?> ClientAsync(CancellationToken cancellationToken) => _client(cancellationToken);

    /// <summary>
    /// The component of <paramref name="role"/> when the user turned it off (k3s's <c>--disable</c> in K3sArgs: then the
    /// container runs neither k3s's nor KubeDind's fallback, and its gate has nothing to wait for); null otherwise.
    /// </summary>
    public async Task<ClusterComponent?> TurnedOffAsync(string role, CancellationToken cancellationToken)
    {
        var image = _lastInner?.Image ?? (await InnerAsync(cancellationToken).ConfigureAwait(false)).Image;
        return image?.TurnedOff(role);
    }

    public void SetFatal(string reason)
    {
        Fatal ??= reason;
        _fatal.Cancel();
    }

    /// <summary>
    /// Runs <c>kubedind-ready</c> checking up to the gate <paramref name="through"/> (all of them when null) unless that
    /// ran within <paramref name="maxAge"/> (default 3 s); records a fatal failure (a failed component, or a status
    /// document this core cannot read). "starting" (has a component failed, which components run) is cheap.
    /// </summary>
    public async Task<InnerReadiness> InnerAsync(CancellationToken cancellationToken, TimeSpan? maxAge = null, string? through = Starting)
    {
        var key = through ?? string.Empty;
        if (_inner.TryGetValue(key, out var cached) && DateTime.UtcNow - cached.At < (maxAge ?? TimeSpan.FromSeconds(3)))
        {
            return cached.Result;
        }

        ExecResult result;
        try
        {
            result = await ContainerExec.RunAsync(Docker, ContainerId, through is null ? ["kubedind-ready"] : ["kubedind-ready", through], cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            var state = (await Docker.Containers.InspectContainerAsync(ContainerId, cancellationToken).ConfigureAwait(false)).State;
            SetFatal($"the container exited with code {state.ExitCode}");
            throw;
        }

        InnerReadiness inner;
        try
        {
            inner = InnerReadiness.Parse(result, Image);
        }
        catch (KubeDindException ex)
        {
            SetFatal(ex.Message);
            throw;
        }

        _lastInner = inner;
        _inner[key] = (inner, DateTime.UtcNow);
        if (inner.Failed)
        {
            SetFatal($"kubedind-ready: {inner.Line}");
        }

        return inner;
    }
}
