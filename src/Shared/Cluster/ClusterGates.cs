using System.Text.Json;
using k8s;
using k8s.Models;
using KubeDind.Deploy;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Mirror;
using KubeDind.Waiting;

namespace KubeDind.Cluster;

/// <summary>
/// The readiness gates of a kube-dind cluster: the container runs, the registry answers /v2/ from the host, then side
/// by side the inner dockerd answers and, with Kubernetes, the API answers from the host; then, side by side, the node
/// is Ready, the default service account exists, the cluster DNS answers, a default StorageClass exists and the
/// components' kube-system pods (and every other one there) are Ready. A start with images to push pushes them from
/// the moment the registry answers, and is ready once they are in its registry too.
/// Readiness of Kubernetes is decided here alone (the image's HEALTHCHECK checks only its own daemons and /readyz).
/// Inner state comes from <c>kubedind-ready</c> (exec) and the image's status document it carries
/// (<see cref="ImageStatus"/>: which components run, which the user turned off); a component that failed for good, or a container
/// that exited, stops the wait at once through <see cref="ClusterProbe.Fatal"/>.
/// </summary>
internal static class ClusterGates
{
    /// <summary>Where k3s stores its API serving certificate (namespace kube-system).</summary>
    public const string ServingSecret = "k3s-serving";

    /// <summary>
    /// The gates in stages, each passed before the next is checked. Once the API answers (and, warm, its certificate
    /// settled), the rest are independent of each other and checked side by side: some cost an exec in the container
    /// (cluster DNS, the components' status), whose half second each no longer adds up.
    /// </summary>
    /// <param name="probe">The starting cluster.</param>
    /// <param name="kubernetes">False in compose mode: no Kubernetes gates.</param>
    /// <param name="warm">A warm start: the API's serving certificate must also have settled on this container's address.</param>
    /// <param name="agents">The agent nodes of a multi-node cluster: one gate each, beside the server's node.</param>
    /// <param name="pushes">The images the start pushes: started once the registry answers, waited for beside the last gates.</param>
    public static IReadOnlyList<IReadOnlyList<IReadinessGate>> For(ClusterProbe probe, bool kubernetes, bool warm = false, IReadOnlyList<ClusterAgent>? agents = null, ClusterStartPushes? pushes = null)
    {
        // The inner dockerd serves neither the registry nor k3s (its start takes seconds, more under load): it is
        // waited for beside the API, so that the pushes start as soon as the registry answers.
        var dockerd = new InnerStageGate(probe, "inner dockerd answers", passedAfter: "dockerd");
        List<IReadOnlyList<IReadinessGate>> stages =
        [
            [new ContainerRunningGate(probe)],
            [new RegistryGate(probe)],
        ];
        if (!kubernetes)
        {
            stages.Add(pushes is null ? [dockerd] : [dockerd, pushes.Finished]);
            return stages;
        }

        var api = new KubernetesApiGate(probe, warm);
        stages.Add(pushes is null ? [api, dockerd] : [api, dockerd, pushes.Started]);
        if (warm)
        {
            // Right after the API: a state saved without k3s-serving passes at once then; checked last, k3s has
            // made the secret by then and the gate waits one more poll to see it unchanged.
            stages.Add([new ServingCertificateGate(probe)]);
        }

        stages.Add(
        [
            new NodeReadyGate(probe),
            .. (agents ?? []).Select(agent => new AgentNodeReadyGate(probe, agent)),
            new DefaultServiceAccountGate(probe),
            new ClusterDnsGate(probe),
            new DefaultStorageClassGate(probe),
            new SystemPodsGate(probe),
            .. pushes is null ? [] : new[] { pushes.Finished },
        ]);
        return stages;
    }

    /// <summary>What the API gate asks: every check of /readyz, or on a warm start all but those the restored state settled.</summary>
    internal static string ApiReadyzPath(bool warm) =>
        "/readyz?verbose" + (warm ? string.Concat(ImageContract.Current.ReadyzChecksSettledByRestoredState.Select(check => "&exclude=" + Uri.EscapeDataString(check))) : string.Empty);

    /// <summary>
    /// Removes the not-ready taint from a node Ready since the container started (<see cref="ClusterFreshness.HasStaleNotReadyTaint"/>),
    /// as the node lifecycle controller does once it runs; null once removed, or what to wait for when the node changed meanwhile.
    /// </summary>
    private static async Task<GateResult?> RemoveNotReadyTaintAsync(ClusterProbe probe, IKubernetes client, V1Node node, CancellationToken cancellationToken)
    {
        var kept = node.Spec.Taints.Where(t => t.Key != ClusterFreshness.NotReadyTaint).ToList();
        // Only the node as read: a taint added since (the node went NotReady again) is not removed unseen.
        var patch = KubernetesJson.Serialize(new object[]
        {
            new { op = "test", path = "/metadata/resourceVersion", value = node.ResourceVersion() },
            new { op = "replace", path = "/spec/taints", value = kept },
        });
        try
        {
            await client.CoreV1.PatchNodeAsync(new V1Patch(patch, V1Patch.PatchType.JsonPatch), node.Name(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (k8s.Autorest.HttpOperationException ex) when (ex.Response.StatusCode is System.Net.HttpStatusCode.Conflict or System.Net.HttpStatusCode.UnprocessableEntity)
        {
            return GateResult.NotYet($"node {node.Name()} is Ready but still carries the {ClusterFreshness.NotReadyTaint} taint (it changed while it was being removed)");
        }

        probe.Log?.Debug($"{probe.Subject}: node {node.Name()} is Ready since the container started; removed the {ClusterFreshness.NotReadyTaint} taint it kept from before, which the node lifecycle controller would remove only once it runs");
        return null;
    }

    private sealed class ContainerRunningGate(ClusterProbe probe) : IReadinessGate
    {
        public string Name => "container running";

        public TimeSpan? PollInterval => ReadinessWaiter.RequestPollInterval;

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

    /// <summary>Passes once <c>kubedind-ready</c> reports the gate <c>passedAfter</c> passed.</summary>
    private sealed class InnerStageGate(ClusterProbe probe, string name, string passedAfter) : IReadinessGate
    {
        public string Name => name;

        public async Task<GateResult> CheckAsync(CancellationToken cancellationToken)
        {
            var inner = await probe.InnerAsync(cancellationToken, maxAge: TimeSpan.Zero, through: passedAfter).ConfigureAwait(false);
            return inner.HasPassed(passedAfter) ? GateResult.Pass() : GateResult.NotYet(inner.Line);
        }
    }

    private sealed class RegistryGate(ClusterProbe probe) : IReadinessGate
    {
        private readonly RegistryApiGate _registry = new($"http://{probe.RegistryHostEndpoint}");

        public string Name => $"registry answers /v2/ at {probe.RegistryHostEndpoint}";

        public TimeSpan? PollInterval => _registry.PollInterval;

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
        private bool _hasClient;

        public abstract string Name { get; }

        /// <summary>One API request per check once the kubeconfig is there; before that each check execs into the container.</summary>
        public virtual TimeSpan? PollInterval => _hasClient ? ReadinessWaiter.RequestPollInterval : null;

        protected ClusterProbe Probe => probe;

        public async Task<GateResult> CheckAsync(CancellationToken cancellationToken)
        {
            var client = await probe.ClientAsync(cancellationToken).ConfigureAwait(false);
            _hasClient = client is not null;
            if (client is null)
            {
                var inner = await probe.InnerAsync(cancellationToken, maxAge: TimeSpan.Zero, through: "apiserver").ConfigureAwait(false);
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

    /// <param name="warm">
    /// A warm start: /readyz is asked without the checks the restored state already settled
    /// (<see cref="ImageContract.ReadyzChecksSettledByRestoredState"/>), which take a second or more to pass again.
    /// </param>
    private sealed class KubernetesApiGate(ClusterProbe probe, bool warm) : KubernetesGate(probe)
    {
        private readonly string _readyz = ApiReadyzPath(warm);

        public override string Name => $"Kubernetes API answers at {Probe.ApiEndpoint}";

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            var version = await client.Version.GetCodeAsync(cancellationToken).ConfigureAwait(false);
            Probe.KubernetesVersion = version.GitVersion;

            // /version answers as soon as the server listens; /readyz only once its post-start hooks (the RBAC roles)
            // and informers have finished. Before that, a warm start's API serves reads but refuses writes with 403
            // "not yet ready to handle request" (the namespace admission's informer has not synced).
            if (client is not k8s.Kubernetes kubernetes)
            {
                return GateResult.Pass();
            }

            using var response = await kubernetes.HttpClient.GetAsync(new Uri(kubernetes.BaseUri, _readyz), cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                return GateResult.Pass();
            }

            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var failing = body.Split('\n').Where(line => line.StartsWith("[-]", StringComparison.Ordinal)).Select(line => line[3..].Split(' ')[0]).ToList();
            return GateResult.NotYet($"/readyz answers {(int)response.StatusCode}{(failing.Count > 0 ? ": not ready: " + string.Join(", ", failing) : string.Empty)}");
        }
    }

    private sealed class NodeReadyGate(ClusterProbe probe) : KubernetesGate(probe)
    {
        /// <summary>Where k3s's cloud provider reads a node's InternalIP from (set by the k3s agent at its start).</summary>
        private const string InternalIpAnnotation = "k3s.io/internal-ip";

        private readonly HashSet<string> _readdressed = new(StringComparer.Ordinal);

        public override string Name => "node Ready";

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            var nodes = await client.CoreV1.ListNodeAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            if (nodes.Items.Count == 0)
            {
                return GateResult.NotYet("no node has registered yet");
            }

            // The server's node only: an agent's node names its own container's address.
            foreach (var node in nodes.Items.Where(n => n.Name() == ClusterContainerSpec.ServerNodeName && Probe.Address is { } address && InternalIps(n).Count > 0 && !InternalIps(n).Contains(address)))
            {
                await ReaddressAsync(client, node, Probe.Address!, cancellationToken).ConfigureAwait(false);
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

            foreach (var node in fresh.Where(n => ClusterFreshness.HasStaleNotReadyTaint(n, Probe.StartedAt)))
            {
                if (await RemoveNotReadyTaintAsync(Probe, client, node, cancellationToken).ConfigureAwait(false) is { } retry)
                {
                    return retry;
                }
            }

            // The API server reaches kubelets (logs, exec) at their InternalIP: the node in this container must name its
            // current address, not the one stored from a previous container (which may now be another container's).
            var addresses = fresh.SelectMany(InternalIps).ToList();
            return Probe.Addresses.Count == 0 || addresses.Any(Probe.Addresses.Contains)
                ? GateResult.Pass()
                : GateResult.NotYet($"the node's InternalIP ({string.Join(", ", addresses)}) is not this container's address ({string.Join(", ", Probe.Addresses)}) yet");
        }

        private static List<string> InternalIps(V1Node node) =>
            node.Status?.Addresses?.Where(a => a.Type == "InternalIP").Select(a => a.Address).ToList() ?? [];

        /// <summary>
        /// A node restored from a saved state keeps the address of the container it was saved from: the kubelet never
        /// replaces the addresses of a node that has some (k3s runs it with an external cloud provider), and k3s's cloud
        /// controller copies its k3s.io/internal-ip annotation into them only once a minute, so the node would name a
        /// stale address for up to a minute (and the API server would reach the kubelet there). Both are set here at once:
        /// the annotation (so the cloud controller keeps the new address) and the status addresses.
        /// </summary>
        private async Task ReaddressAsync(IKubernetes client, V1Node node, string address, CancellationToken cancellationToken)
        {
            var name = node.Name();
            var stale = string.Join(", ", InternalIps(node));
            var addresses = (node.Status?.Addresses ?? [])
                .Where(a => a.Type != "InternalIP")
                .Prepend(new V1NodeAddress { Address = address, Type = "InternalIP" })
                .Select(a => new Dictionary<string, string> { ["type"] = a.Type, ["address"] = a.Address })
                .ToList();
            var annotation = JsonSerializer.Serialize(new { metadata = new { annotations = new Dictionary<string, string> { [InternalIpAnnotation] = address } } });
            var status = JsonSerializer.Serialize(new { status = new { addresses } });
            await client.CoreV1.PatchNodeAsync(new V1Patch(annotation, V1Patch.PatchType.MergePatch), name, cancellationToken: cancellationToken).ConfigureAwait(false);
            await client.CoreV1.PatchNodeStatusAsync(new V1Patch(status, V1Patch.PatchType.MergePatch), name, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (_readdressed.Add(name))
            {
                Probe.Log?.Info($"{Probe.Subject}: node {name} from the saved state named the address {stale}; set to this container's {address}");
            }
        }
    }

    /// <summary>
    /// An agent node: its container runs (one that exited ends the wait, with its log), and its node has reported since it
    /// started, is Ready, and names the container's address as InternalIP (where the other nodes route its pods).
    /// </summary>
    private sealed class AgentNodeReadyGate(ClusterProbe probe, ClusterAgent agent) : KubernetesGate(probe)
    {
        public override string Name => $"node Ready: {agent.NodeName}";

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            var inspect = await Probe.Docker.Containers.InspectContainerAsync(agent.ContainerId, cancellationToken).ConfigureAwait(false);
            if (!inspect.State.Running)
            {
                var log = await ContainerLogs.TailAsync(Probe.Docker, agent.ContainerId, 15, cancellationToken).ConfigureAwait(false);
                Probe.SetFatal($"agent {agent.Name} exited with code {inspect.State.ExitCode}; its last log lines:\n{log}");
                return GateResult.NotYet($"agent container {agent.Name} is {inspect.State.Status}");
            }

            var started = DateTimeOffset.Parse(inspect.State.StartedAt, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal);
            var nodes = await client.CoreV1.ListNodeAsync(fieldSelector: $"metadata.name={agent.NodeName}", cancellationToken: cancellationToken).ConfigureAwait(false);
            if (nodes.Items.FirstOrDefault() is not { } node || !ClusterFreshness.HasReportedSince(node, started))
            {
                return GateResult.NotYet($"node {agent.NodeName} has not registered yet (agent {agent.Name} joins the server)");
            }

            if (!ClusterFreshness.IsFreshReady(node, started))
            {
                var ready = node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
                return GateResult.NotYet($"node {agent.NodeName} is not Ready{(ready?.Message is { Length: > 0 } message ? $" ({message})" : string.Empty)}");
            }

            if (ClusterFreshness.HasStaleNotReadyTaint(node, started)
                && await RemoveNotReadyTaintAsync(Probe, client, node, cancellationToken).ConfigureAwait(false) is { } retry)
            {
                return retry;
            }

            var addresses = inspect.NetworkSettings?.Networks?.Values.Select(n => n.IPAddress).Where(a => !string.IsNullOrEmpty(a)).ToList() ?? [];
            var internalIps = node.Status?.Addresses?.Where(a => a.Type == "InternalIP").Select(a => a.Address).ToList() ?? [];
            return addresses.Count == 0 || internalIps.Any(addresses.Contains)
                ? GateResult.Pass()
                : GateResult.NotYet($"node {agent.NodeName}'s InternalIP ({string.Join(", ", internalIps)}) is not its container's address ({string.Join(", ", addresses)}) yet");
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
    /// On a restored state k3s replaces its serving certificate (the old one names the old container's address); when the
    /// state holds the secret k3s-serving it may swap back and forth between the stored and the new one for a few
    /// seconds (k3s versions that close connections on a change do so each time). States are saved without that secret
    /// (then this passes at once); with one, passes once it names this container's address and has not changed since
    /// the previous check (or, naming it or not, has not changed for six checks).
    /// </summary>
    private sealed class ServingCertificateGate(ClusterProbe probe) : KubernetesGate(probe)
    {
        private string? _lastVersion;
        private int _unchanged;

        public override string Name => "API serving certificate settled";

        // "Unchanged for six checks" means a few seconds of k3s's swapping: at the waiter's pace, not a request's.
        public override TimeSpan? PollInterval => null;

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            var inspect = await Probe.Docker.Containers.InspectContainerAsync(Probe.ContainerId, cancellationToken).ConfigureAwait(false);
            var addresses = inspect.NetworkSettings?.Networks?.Values.Select(n => n.IPAddress).Where(a => !string.IsNullOrEmpty(a)).ToList() ?? [];
            V1Secret secret;
            try
            {
                secret = await client.CoreV1.ReadNamespacedSecretAsync(ServingSecret, "kube-system", cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (k8s.Autorest.HttpOperationException ex) when (ex.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                // Saved without it (ClusterWarmStart): k3s will create it from the certificate it serves, which it made
                // for this container at start; no stored one can be swapped in.
                return GateResult.Pass();
            }

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

    /// <summary>Resolves a name every cluster has through the cluster DNS address, from inside the container (the path pods take).</summary>
    private sealed class ClusterDnsGate(ClusterProbe probe) : IReadinessGate
    {
        public const string Probe = "kubernetes.default.svc.cluster.local";

        public string Name => "cluster DNS answers";

        public async Task<GateResult> CheckAsync(CancellationToken cancellationToken)
        {
            if (await probe.TurnedOffAsync("dns", cancellationToken).ConfigureAwait(false) is { } off)
            {
                return GateResult.Pass($"cluster DNS: off ({off.Detail} by K3sArgs); pods cannot resolve Service names");
            }

            var result = await ContainerExec.RunAsync(probe.Docker, probe.ContainerId, ["kubedind-resolve", Probe], cancellationToken: cancellationToken).ConfigureAwait(false);
            if (result.Succeeded)
            {
                return GateResult.Pass();
            }

            var inner = await probe.InnerAsync(cancellationToken).ConfigureAwait(false);
            var dns = inner.Components.FirstOrDefault(c => c.Role == "dns");
            return GateResult.NotYet($"{result.FirstErrorLine}{(dns is null ? string.Empty : $" (DNS: {dns.Implementation})")}");
        }
    }

    private sealed class DefaultStorageClassGate(ClusterProbe probe) : KubernetesGate(probe)
    {
        public override string Name => "default StorageClass present";

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            if (await Probe.TurnedOffAsync("storage", cancellationToken).ConfigureAwait(false) is { } off)
            {
                return GateResult.Pass($"storage: off ({off.Detail} by K3sArgs); no default StorageClass, so a PersistentVolumeClaim without a storageClassName stays Pending");
            }

            var classes = await client.StorageV1.ListStorageClassAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            var defaults = classes.Items.Where(c => c.Annotations()?.TryGetValue("storageclass.kubernetes.io/is-default-class", out var value) == true && value == "true").ToList();
            if (defaults.Count == 0)
            {
                return GateResult.NotYet(classes.Items.Count == 0 ? "no StorageClass yet" : $"none is the default ({string.Join(", ", classes.Items.Select(c => c.Name()))})");
            }

            // KubeDind's fallback binds the claims itself: a warm start's class, restored from the saved state, is
            // there before the fallback runs, and a claim created then would wait for it.
            var inner = await Probe.InnerAsync(cancellationToken).ConfigureAwait(false);
            if (inner.Components.Any(c => c.Role == "storage" && c.IsFallback) && !defaults.Any(c => ClusterFreshness.IsStorageServingSince(c, Probe.StartedAt)))
            {
                return GateResult.NotYet("KubeDind's storage fallback is not binding claims yet");
            }

            return GateResult.Pass();
        }
    }

    /// <summary>
    /// The pods of the components that run (from the image's status document: coredns, local-path-provisioner, ...) exist and are
    /// Ready, and so is every other kube-system pod (finished jobs excepted), and every kube-system Deployment has its
    /// replicas in pods Ready since this container started. With only KubeDind's fallbacks there are none to wait for.
    /// </summary>
    private sealed class SystemPodsGate(ClusterProbe probe) : KubernetesGate(probe)
    {
        public override string Name => "kube-system pods Ready";

        protected override async Task<GateResult> CheckAsync(IKubernetes client, CancellationToken cancellationToken)
        {
            var inner = await Probe.InnerAsync(cancellationToken).ConfigureAwait(false);
            var expected = inner.Components.SelectMany(c => c.Pods).ToList();
            var pods = await client.CoreV1.ListNamespacedPodAsync("kube-system", cancellationToken: cancellationToken).ConfigureAwait(false);
            // Ready since this container started: on a warm start the saved pods still say Ready from before the save.
            bool IsReady(V1Pod p) => ClusterFreshness.IsFreshReady(p, Probe.StartedAt);
            var missing = expected.Where(prefix => !pods.Items.Any(p => p.Name().StartsWith(prefix + "-", StringComparison.Ordinal) && IsReady(p))).ToList();
            var pending = pods.Items
                .Where(p => p.Status?.Phase != "Succeeded" && !IsReady(p))
                .Select(p => $"{p.Name()} ({p.Status?.Phase ?? "no status"})")
                .ToList();
            if (missing.Count > 0)
            {
                return GateResult.NotYet($"waiting for {string.Join(", ", missing)}{(pending.Count > 0 ? $"; not Ready: {string.Join(", ", pending)}" : string.Empty)}");
            }

            if (pending.Count > 0)
            {
                return GateResult.NotYet($"not Ready: {string.Join(", ", pending)}");
            }

            // Pods the controllers have not made yet are not in the list: a kube-system Deployment restored with a warm
            // start (or applied from k3s's manifests) gets its pods only once the controller manager's ReplicaSet
            // controller runs, seconds after the API.
            var deployments = await client.AppsV1.ListNamespacedDeploymentAsync("kube-system", cancellationToken: cancellationToken).ConfigureAwait(false);
            var unready = deployments.Items
                .Select(d => (Name: d.Name(), Wanted: d.Spec?.Replicas ?? 1, Ready: pods.Items.Count(p => PodStates.Matches(d.Spec?.Selector, p) && IsReady(p))))
                .Where(d => d.Ready < d.Wanted)
                .Select(d => $"Deployment {d.Name}: {d.Ready}/{d.Wanted} pods Ready since this container started")
                .ToList();
            return unready.Count == 0 ? GateResult.Pass() : GateResult.NotYet(string.Join("; ", unready));
        }
    }
}
