using System.Globalization;
using Docker.DotNet.Models;
using k8s;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Networking;
using KubeDind.Waiting;

namespace KubeDind.Cluster;

/// <summary>
/// Waits for a started cluster container gate by gate (<see cref="ClusterGates"/>), writing the per-run kubeconfig
/// as soon as k3s has one, and returns the running cluster. A fatal failure (a component failed for good, the
/// container exited) ends the wait at once with the container's log tail; a failed wait deletes the kubeconfig.
/// </summary>
internal static class ClusterReadiness
{
    private const int LogTailLines = 40;

    public static async Task<KubeDindCluster> WaitAsync(ClusterStartContext context, CancellationToken cancellationToken)
    {
        var (session, settings, name, containerId) = (context.Session, context.Settings, context.Name, context.ContainerId);
        var docker = session.Docker;
        var waitStarted = context.Watch.Elapsed;
        var inspect = await docker.Containers.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
        var ports = PublishedPorts(inspect);
        var publishing = context.Publishing;
        var registry = $"{publishing.UrlHost}:{ports[ClusterContainerSpec.RegistryContainerPort]}";
        var registryForEngine = $"{RegistryEngineHost(publishing)}:{ports[ClusterContainerSpec.RegistryContainerPort]}";
        var api = settings.Kubernetes ? $"https://{publishing.UrlHost}:{ports[ClusterContainerSpec.ApiContainerPort]}" : null;
        context.ContainerStartedAt = DateTimeOffset.Parse(inspect.State.StartedAt, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        var kubeconfigPath = settings.Kubernetes ? ClusterKubeconfig.ChoosePath(settings.KubeconfigDirectory, settings.ArtifactsDirectory, name) : null;

        IKubernetes? client = null;
        async Task<IKubernetes?> ClientAsync(CancellationToken ct)
        {
            if (client is not null)
            {
                return client;
            }

            var text = await ClusterKubeconfig.ReadAsync(docker, containerId, ct).ConfigureAwait(false);
            if (text is null)
            {
                return null;
            }

            await ClusterKubeconfig.WriteAsync(kubeconfigPath!, ClusterKubeconfig.Rewrite(text, api!), ct).ConfigureAwait(false);
            session.Log.Debug($"cluster {name}: kubeconfig written to {kubeconfigPath}");
            return client = KubeDindCluster.CreateClient(kubeconfigPath!);
        }

        async Task<string?> DiagnosticsAsync(CancellationToken ct)
        {
            var text = await ContainerLogs.TailSectionAsync(docker, containerId, "cluster container", LogTailLines, ct).ConfigureAwait(false);
            foreach (var agent in context.Agents)
            {
                text += "\n" + await ContainerLogs.TailSectionAsync(docker, agent.ContainerId, $"agent {agent.Name}", LogTailLines / 2, ct).ConfigureAwait(false);
            }

            return text;
        }

        using var fatal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var probe = new ClusterProbe(docker, containerId, registry, api ?? string.Empty, ClientAsync, fatal)
        {
            StartedAt = context.ContainerStartedAt,
            Addresses = inspect.NetworkSettings?.Networks?.Values.Select(n => n.IPAddress).Where(a => !string.IsNullOrEmpty(a)).ToList() ?? [],
            Address = inspect.NetworkSettings?.Networks?.TryGetValue(settings.NetworkOrDefault, out var own) == true && !string.IsNullOrEmpty(own.IPAddress) ? own.IPAddress : null,
            Log = session.Log,
            Subject = $"cluster {name}",
            Image = inspect.Config?.Image ?? settings.Image ?? "kubedind/kube-dind",
        };
        await using var pushes = settings.ImagesToPush.Count == 0 ? null : new ClusterStartPushes(session, probe, name, settings, registryForEngine, fatal.Token);
        IReadOnlyList<(string Gate, TimeSpan Elapsed)> passed;
        try
        {
            passed = await new ReadinessWaiter(session.Log).WaitInStagesAsync(
                $"cluster {name}",
                ClusterGates.For(probe, settings.Kubernetes, warm: context.WarmStart?.Restored == true, agents: context.Agents, pushes: pushes),
                settings.ReadinessTimeout,
                DiagnosticsAsync,
                fatal.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (probe.Fatal is not null && !cancellationToken.IsCancellationRequested)
        {
            Teardown.DeleteKubeconfig(kubeconfigPath);
            if (pushes?.Failure is { } failure)
            {
                context.PushFailed = true;
                failure.Throw();
            }
            if (settings.Kubernetes && CgroupV1Refusal.Explain(name, await ReadK3sLogAsync(docker, containerId).ConfigureAwait(false), probe.KubernetesVersion) is { } refusal)
            {
                throw new KubeDindException(refusal, await DiagnosticsAsync(CancellationToken.None).ConfigureAwait(false));
            }

            throw new KubeDindException(
                $"cluster {name}: failed while starting: {probe.Fatal}; see the log lines below.",
                await DiagnosticsAsync(CancellationToken.None).ConfigureAwait(false));
        }
        catch (Exception) when (!settings.KeepOnFailure)
        {
            Teardown.DeleteKubeconfig(kubeconfigPath);
            throw;
        }
        finally
        {
            (client as IDisposable)?.Dispose();
        }

        var started = context.ContainerStarted;
        var cluster = new KubeDindCluster(session, settings)
        {
            Name = name,
            ContainerId = containerId,
            Image = context.Image,
            HasKubernetes = settings.Kubernetes,
            Privilege = context.Privilege,
            RegistryHostEndpoint = registry,
            RegistryEngineEndpoint = registryForEngine,
            PublishedHost = publishing.UrlHost,
            ApiEndpoint = api,
            KubeconfigPath = kubeconfigPath,
            KubernetesVersion = probe.KubernetesVersion,
            Network = settings.NetworkOrDefault,
            PublishedPorts = settings.Ports.ToDictionary(p => p.ContainerPort, p => ports[p.ContainerPort]),
            // Gate times count from this wait's start: after the agents started, in a multi-node cluster.
            Timings = new ClusterTimings(context.ImageReady, started, passed.Select(g => (g.Gate, waitStarted + g.Elapsed)).ToList(), context.Watch.Elapsed)
            {
                AgentsStarted = context.Agents.Count > 0 ? waitStarted : null,
                Start = context.WarmStart?.Description ?? "cold start",
                StateRestore = context.WarmStart?.RestoreTime,
            },
            Components = probe.Components,
            Agents = [.. context.Agents],
        };
        foreach (var (hostImage, pushed) in pushes?.Pushed ?? [])
        {
            cluster.RecordPush(hostImage, pushed);
        }

        session.Log.Debug($"cluster {name}: timeline ({cluster.Timings.Start}): {string.Join(", ", cluster.Timings.Phases().Select(p => $"{p.Phase} {p.Duration.TotalSeconds:0.0}s"))}");
        foreach (var fallback in cluster.Components.Where(c => c.IsFallback))
        {
            session.Log.Warn($"cluster {name}: {fallback.Role} is KubeDind's fallback ({fallback.Implementation}): {fallback.Detail}; for k3s's own, set AirgapImages to k3s's air-gap images tarball or use a registry mirror.");
        }

        session.Log.Info($"cluster {name}: ready in {context.Watch.Elapsed.TotalSeconds:0.0}s: registry {registry}"
            + (registryForEngine == registry ? string.Empty : $" (the engine pushes to {registryForEngine})")
            + $" (in the cluster {cluster.RegistryClusterName})"
            + (api is null ? ", compose mode" : $", API {api} (Kubernetes {probe.KubernetesVersion}), kubeconfig {kubeconfigPath}; components: {string.Join(", ", cluster.Components)}")
            + (cluster.Agents.Count == 0 ? string.Empty : $"; nodes: {ClusterContainerSpec.ServerNodeName} (server), {string.Join(", ", cluster.Agents.Select(a => a.NodeName))}"));
        return cluster;
    }

    /// <summary>
    /// Where the engine itself reaches the registry it published: its own loopback when the port is bound there or on every
    /// address (engines trust 127.0.0.0/8 over plain HTTP), else the bound address.
    /// </summary>
    /// <summary>k3s's log in the container (also after it exited); null when there is none.</summary>
    private static async Task<string?> ReadK3sLogAsync(global::Docker.DotNet.IDockerClient docker, string containerId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            return await ContainerFiles.ReadTextAsync(docker, containerId, "/var/log/kubedind/k3s.log", timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is global::Docker.DotNet.DockerApiException or OperationCanceledException or IOException)
        {
            return null;
        }
    }

    private static string RegistryEngineHost(PortPublishing publishing) =>
        publishing.BindAddress is DockerEndpoint.AnyAddress or "::" || DockerEndpoint.IsLoopbackName(publishing.BindAddress)
            ? DockerEndpoint.Loopback
            : DockerEndpoint.UrlHost(publishing.BindAddress);

    private static Dictionary<int, int> PublishedPorts(ContainerInspectResponse inspect)
    {
        var result = new Dictionary<int, int>();
        foreach (var (key, bindings) in inspect.NetworkSettings?.Ports ?? new Dictionary<string, IList<PortBinding>>())
        {
            var binding = bindings?.FirstOrDefault(b => !string.IsNullOrEmpty(b.HostPort));
            if (binding is not null)
            {
                result[int.Parse(key.Split('/')[0], CultureInfo.InvariantCulture)] = int.Parse(binding.HostPort, CultureInfo.InvariantCulture);
            }
        }

        return result;
    }
}
