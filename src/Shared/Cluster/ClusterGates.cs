using Docker.DotNet;
using k8s;
using k8s.Models;
using KubeDind.Docker;
using KubeDind.Mirror;
using KubeDind.Waiting;

namespace KubeDind.Cluster;

/// <summary>
/// The readiness gates of a kube-dind cluster, in the order they pass: the container runs, the inner
/// dockerd answers, the registry answers /v2/ from the host, and with Kubernetes the API answers from
/// the host, the node is Ready, the default service account exists and every kube-system pod is Ready.
/// Inner state comes from <c>kubedind-ready</c> (exec); a component that failed for good, or a container
/// that exited, stops the wait at once through <see cref="ClusterProbe.Fatal"/>.
/// </summary>
internal static class ClusterGates
{
    /// <param name="probe">The starting cluster.</param>
    /// <param name="kubernetes">False in compose mode: no Kubernetes gates.</param>
    /// <param name="warm">A warm start: the API's serving certificate must also have settled on this container's address.</param>
    public static IReadOnlyList<IReadinessGate> For(ClusterProbe probe, bool kubernetes, bool warm = false)
    {
        var gates = new List<IReadinessGate>
        {
            new ContainerRunningGate(probe),
            new InnerStageGate(probe, "inner dockerd answers", passedAfter: "dockerd"),
            new RegistryGate(probe),
        };
        if (kubernetes)
        {
            gates.Add(new KubernetesApiGate(probe));
            gates.Add(new NodeReadyGate(probe));
            gates.Add(new DefaultServiceAccountGate(probe));
            gates.Add(new SystemPodsGate(probe));
            if (warm)
            {
                gates.Add(new ServingCertificateGate(probe));
            }
        }

        return gates;
    }

    private sealed class ContainerRunningGate(ClusterProbe probe) : IReadinessGate
    {
        public string Name => "container running";

        public async Task<GateResult> CheckAsync(CancellationToken cancellationToken)
        {
            var state = (await probe.Docker.Containers.InspectContainerAsync(probe.ContainerId, cancellationToken).ConfigureAwait(false)).State;
            if (state.Running)
            {
                return GateResult.Pass();
            }

            if (state.Status is "exited" or "dead")
            {
                probe.SetFatal($"the container exited with code {state.ExitCode}{(string.IsNullOrEmpty(state.Error) ? string.Empty : ": " + state.Error)}");
            }

            return GateResult.NotYet($"container is {state.Status}");
        }
    }

    /// <summary>Passes once <c>kubedind-ready</c> reports a stage later than <c>passedAfter</c>.</summary>
    private sealed class InnerStageGate(ClusterProbe probe, string name, string passedAfter) : IReadinessGate
    {
        public string Name => name;

        public async Task<GateResult> CheckAsync(CancellationToken cancellationToken)
        {
            var inner = await probe.InnerAsync(cancellationToken, maxAge: TimeSpan.Zero).ConfigureAwait(false);
            return inner.IsPast(passedAfter) ? GateResult.Pass() : GateResult.NotYet(inner.Line);
        }
    }

    private sealed class RegistryGate(ClusterProbe probe) : IReadinessGate
    {
        private readonly RegistryApiGate _registry = new($"http://{probe.RegistryHostEndpoint}");

        public string Name => $"registry answers /v2/ at {probe.RegistryHostEndpoint}";

        public async Task<GateResult> CheckAsync(CancellationToken cancellationToken)
        {
            var result = await _registry.CheckAsync(cancellationToken).ConfigureAwait(false);
            if (!result.Passed)
            {
                // Notices a registry that failed for good inside, instead of waiting out the timeout.
                await probe.InnerAsync(cancellationToken).ConfigureAwait(false);
            }

            return result;
        }
    }

    /// <summary>Base for the gates checked from the host with the cluster's own client (which also proves the kubeconfig works).</summary>
    private abstract class KubernetesGate(ClusterProbe probe) : IReadinessGate
    {
        public abstract string Name { get; }

        protected ClusterProbe Probe => probe;

        public async Task<GateResult> CheckAsync(CancellationToken cancellationToken)
        {
            var client = await probe.ClientAsync(cancellationToken).ConfigureAwait(false);
            if (client is null)
            {
                var inner = await probe.InnerAsync(cancellationToken, maxAge: TimeSpan.Zero).ConfigureAwait(false);
                return GateResult.NotYet($"no kubeconfig yet ({inner.Line})");
            }

            try
            {
                var result = await CheckAsync(client, cancellationToken).ConfigureAwait(false);
                if (!result.Passed)
                {
                    await probe.InnerAsync(cancellationToken).ConfigureAwait(false);
                }

                return result;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                await probe.InnerAsync(cancellationToken).ConfigureAwait(false);
                return GateResult.NotYet(ex.Message.Split('\n')[0]);
            }
        }

        protected abstract Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken);
    }

    private sealed class KubernetesApiGate(ClusterProbe probe) : KubernetesGate(probe)
    {
        public override string Name => $"Kubernetes API answers at {Probe.ApiEndpoint}";

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            var version = await client.Version.GetCodeAsync(cancellationToken).ConfigureAwait(false);
            Probe.KubernetesVersion = version.GitVersion;
            return GateResult.Pass();
        }
    }

    private sealed class NodeReadyGate(ClusterProbe probe) : KubernetesGate(probe)
    {
        public override string Name => "node Ready";

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            var nodes = await client.CoreV1.ListNodeAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            if (nodes.Items.Count == 0)
            {
                return GateResult.NotYet("no node has registered yet");
            }

            // Only nodes that reported since this container started count: on a restored state the stored status
            // still says Ready from before (a renamed node never reports again and is removed after readiness).
            var fresh = nodes.Items.Where(n => ClusterFreshness.HasReportedSince(n, Probe.StartedAt)).ToList();
            if (fresh.Count == 0)
            {
                return GateResult.NotYet($"no node has reported since the container started ({string.Join(", ", nodes.Items.Select(n => n.Name()))} not yet)");
            }

            var notReady = fresh.Where(n => !ClusterFreshness.IsFreshReady(n, Probe.StartedAt)).Select(n => n.Name()).ToList();
            if (notReady.Count > 0)
            {
                return GateResult.NotYet($"not Ready: {string.Join(", ", notReady)}");
            }

            // The API server reaches kubelets (logs, exec) at their InternalIP: the node in this container must name its
            // current address, not the one stored from a previous container (which may now be another container's).
            var addresses = fresh.SelectMany(n => n.Status?.Addresses ?? []).Where(a => a.Type == "InternalIP").Select(a => a.Address).ToList();
            return Probe.Addresses.Count == 0 || addresses.Any(Probe.Addresses.Contains)
                ? GateResult.Pass()
                : GateResult.NotYet($"the node's InternalIP ({string.Join(", ", addresses)}) is not this container's address ({string.Join(", ", Probe.Addresses)}) yet");
        }
    }

    private sealed class DefaultServiceAccountGate(ClusterProbe probe) : KubernetesGate(probe)
    {
        public override string Name => "default service account exists";

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            var accounts = await client.CoreV1.ListNamespacedServiceAccountAsync("default", fieldSelector: "metadata.name=default", cancellationToken: cancellationToken).ConfigureAwait(false);
            return accounts.Items.Count > 0 ? GateResult.Pass() : GateResult.NotYet("default/default does not exist yet");
        }
    }

    /// <summary>
    /// On a restored state k3s replaces its serving certificate (the old one names the old container's address),
    /// closing open connections each time it does; it may swap back and forth between the stored and the new one for
    /// a few seconds. Passes once the stored certificate (secret k3s-serving) names this container's address and
    /// has not changed since the previous check (or, naming it or not, has not changed for six checks).
    /// </summary>
    private sealed class ServingCertificateGate(ClusterProbe probe) : KubernetesGate(probe)
    {
        private string? _lastVersion;
        private int _unchanged;

        public override string Name => "API serving certificate settled";

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            var inspect = await Probe.Docker.Containers.InspectContainerAsync(Probe.ContainerId, cancellationToken).ConfigureAwait(false);
            var addresses = inspect.NetworkSettings?.Networks?.Values.Select(n => n.IPAddress).Where(a => !string.IsNullOrEmpty(a)).ToList() ?? [];
            var secret = await client.CoreV1.ReadNamespacedSecretAsync("k3s-serving", "kube-system", cancellationToken: cancellationToken).ConfigureAwait(false);
            var names = secret.Metadata?.Annotations?.Values.ToHashSet(StringComparer.Ordinal) ?? [];
            var version = secret.Metadata?.ResourceVersion;
            _unchanged = _lastVersion == version ? _unchanged + 1 : 0;
            _lastVersion = version;
            if (!addresses.Any(names.Contains))
            {
                // A k3s that never names the address in the secret: settled all the same once it stops changing.
                return _unchanged >= 6 ? GateResult.Pass() : GateResult.NotYet($"k3s-serving does not name this container's address ({string.Join(", ", addresses)}) yet");
            }

            return _unchanged >= 1 ? GateResult.Pass() : GateResult.NotYet($"k3s-serving changed (version {version})");
        }
    }

    private sealed class SystemPodsGate(ClusterProbe probe) : KubernetesGate(probe)
    {
        public override string Name => "kube-system pods Ready";

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            var pods = await client.CoreV1.ListNamespacedPodAsync("kube-system", cancellationToken: cancellationToken).ConfigureAwait(false);
            var pending = pods.Items
                .Where(p => p.Status?.Phase != "Succeeded" && !ClusterFreshness.IsFreshReady(p, Probe.StartedAt))
                .Select(p => $"{p.Name()} ({p.Status?.Phase ?? "no status"})")
                .ToList();
            return pending.Count == 0 ? GateResult.Pass() : GateResult.NotYet($"not Ready: {string.Join(", ", pending)}");
        }
    }
}

/// <summary>What <c>kubedind-ready</c> said: its line, and whether the inner component failed for good (exit 2).</summary>
internal sealed record InnerReadiness(long ExitCode, string Line)
{
    // kubedind-ready names the first gate not passed; "starting" names the component being started.
    private static readonly string[] Stages = ["cgroups", "dockerd", "registry", "kubernetes", "apiserver", "node", "serviceaccount", "kube-system", "ready"];

    public bool Ready => ExitCode == 0;

    public bool Failed => ExitCode == 2;

    /// <summary>True when the first stage not passed comes after <paramref name="stage"/>.</summary>
    public bool IsPast(string stage)
    {
        var words = Line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var current = words.Length == 0 ? "starting" : words[0];
        if (current == "starting")
        {
            // "starting not ready: dockerd is starting"
            current = words.Length > 3 ? words[3] : "cgroups";
            if (current == "entrypoint")
            {
                current = "cgroups";
            }
        }

        var at = Array.IndexOf(Stages, Ready ? "ready" : current);
        return at > Array.IndexOf(Stages, stage);
    }
}

/// <summary>
/// The facts readiness checks share for one starting cluster: the container, its host endpoints, a
/// throttled <c>kubedind-ready</c> probe, the kubeconfig once k3s wrote it, and the first fatal failure seen.
/// </summary>
internal sealed class ClusterProbe
{
    private readonly CancellationTokenSource _fatal;
    private readonly Func<CancellationToken, Task<IKubernetes?>> _client;
    private InnerReadiness? _lastInner;
    private DateTime _lastInnerAt = DateTime.MinValue;

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

    public Task<IKubernetes?> ClientAsync(CancellationToken cancellationToken) => _client(cancellationToken);

    public void SetFatal(string reason)
    {
        Fatal ??= reason;
        _fatal.Cancel();
    }

    /// <summary>Runs <c>kubedind-ready</c> unless it ran within <paramref name="maxAge"/> (default 3 s); records a fatal failure.</summary>
    public async Task<InnerReadiness> InnerAsync(CancellationToken cancellationToken, TimeSpan? maxAge = null)
    {
        if (_lastInner is not null && DateTime.UtcNow - _lastInnerAt < (maxAge ?? TimeSpan.FromSeconds(3)))
        {
            return _lastInner;
        }

        ExecResult result;
        try
        {
            result = await ContainerExec.RunAsync(Docker, ContainerId, ["kubedind-ready"], cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            var state = (await Docker.Containers.InspectContainerAsync(ContainerId, cancellationToken).ConfigureAwait(false)).State;
            SetFatal($"the container exited with code {state.ExitCode}");
            throw;
        }

        var line = result.FirstOutputLine;
        _lastInner = new InnerReadiness(result.ExitCode, line);
        _lastInnerAt = DateTime.UtcNow;
        if (_lastInner.Failed)
        {
            SetFatal($"kubedind-ready: {line}");
        }

        return _lastInner;
    }
}
