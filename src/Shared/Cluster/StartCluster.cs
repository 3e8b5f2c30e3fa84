using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Networking;

namespace KubeDind.Cluster;

/// <summary>
/// Starts a kube-dind cluster, one small step after another on a shared <see cref="ClusterStartContext"/> (as kind's
/// actions do): sweep leftovers of dead runs, choose and check the name and ports, resolve the image, join the shared
/// network, look for a saved state to start warm from (<see cref="ClusterWarmStart"/>), start the container
/// (<see cref="ClusterContainerSpec"/>, privileged or the fallback), start the agent nodes of a multi-node cluster once the
/// server has its join token (<see cref="ClusterAgents"/>), wait for it gate by gate
/// (<see cref="ClusterReadiness"/>), and save its state when it started cold. A start that fails removes what it created.
/// </summary>
public sealed class StartCluster
{
    public const string Role = ClusterContainerSpec.Role;
    public const int RegistryContainerPort = ClusterContainerSpec.RegistryContainerPort;
    public const int ApiContainerPort = ClusterContainerSpec.ApiContainerPort;

    private readonly KubeDindSession _session;

    public StartCluster(KubeDindSession session) => _session = session;

    public async Task<KubeDindCluster> RunAsync(ClusterSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var context = new ClusterStartContext(_session, ClusterContainerSpec.WithComponentPorts(settings));
        try
        {
            return await RunStepsAsync(context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested)
        {
            // Whatever a step threw on its way out (a wrapped TaskCanceledException, a failed gate), the cause is the
            // cancellation: say that, once, after removing what this start created.
            await RemoveCreatedAsync(context).ConfigureAwait(false);
            throw new OperationCanceledException(
                $"cluster {(context.Name.Length > 0 ? context.Name : settings.Name ?? "start")}: start cancelled; nothing it created is left (the mirror and the shared network are untouched).", ex, cancellationToken);
        }
    }

    private async Task<KubeDindCluster> RunStepsAsync(ClusterStartContext context, CancellationToken cancellationToken)
    {
        var settings = context.Settings;
        if (settings.SweepFirst)
        {
            await new Sweep(_session).RunAsync(new SweepSettings(), cancellationToken).ConfigureAwait(false);
        }

        context.Name = await ClusterStartChecks.ChooseNameAsync(_session, settings, cancellationToken).ConfigureAwait(false);
        context.Publishing = HostPorts.Choose(_session.Engine, settings.HostAddress, "ClusterSettings.HostAddress", $"cluster {context.Name}");
        if (context.Publishing.Warning is not null)
        {
            _session.Log.Warn(context.Publishing.Warning);
        }

        ClusterStartChecks.CheckPorts(context.Name, settings, context.Publishing);
        ClusterStartChecks.CheckArtifactsDirectory(context.Name, settings);
        await ClusterStartChecks.CheckImagesToPushAsync(_session, context.Name, settings, cancellationToken).ConfigureAwait(false);
        if (settings.Kubernetes)
        {
            K3sConfiguration.Validate(context.Name, settings);
        }

        context.Image = await ClusterImage.ResolveAsync(_session, context.Name, settings, cancellationToken).ConfigureAwait(false);
        context.ImageReady = context.Watch.Elapsed;
        await KubeDindNetwork.EnsureAsync(_session, settings.NetworkOrDefault, cancellationToken).ConfigureAwait(false);

        if (settings.LayerStore.Enabled)
        {
            await LayerStore.EnsureVolumeAsync(_session, settings.LayerStore, cancellationToken).ConfigureAwait(false);
        }

        var spec = new ClusterContainerSpec(context.Name, context.Image, settings, _session.RunId) { Publishing = context.Publishing };
        var warm = context.WarmStart = await ClusterWarmStart.PrepareAsync(context, cancellationToken).ConfigureAwait(false);
        (context.ContainerId, context.Privilege) = await new PrivilegedStarter(_session).StartAsync(spec, warm.RestoreAsync, cancellationToken).ConfigureAwait(false);
        context.ContainerStarted = context.Watch.Elapsed;
        _session.Log.Info($"cluster {context.Name}: container started after {context.ContainerStarted.TotalSeconds:0.0}s ({context.Privilege.ToString().ToLowerInvariant()}); waiting for readiness");
        KubeDindCluster cluster;
        try
        {
            await ClusterAgents.StartAsync(context, spec, cancellationToken).ConfigureAwait(false);
            cluster = await ClusterReadiness.WaitAsync(context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (warm.Restored && !context.PushFailed && !cancellationToken.IsCancellationRequested)
        {
            // A saved state that passed its checks but does not come up is still never a failed build.
            _session.Log.Warn($"cluster {context.Name}: the warm start did not become ready ({ex.Message.Split('\n')[0]}); removing that saved state and starting cold");
            await ClusterAgents.RemoveAsync(_session, context.Name, _session.RunId, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            await Teardown.RemoveContainerAsync(_session, context.ContainerId, TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
            await warm.ForgetStateAsync(CancellationToken.None).ConfigureAwait(false);
            return await RunAsync(settings with { Name = context.Name, SweepFirst = false }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!settings.KeepOnFailure)
        {
            _session.Log.Info($"cluster {context.Name}: start failed; removing its container{(settings.Agents > 0 ? "s" : string.Empty)} (set KeepOnFailure to keep {(settings.Agents > 0 ? "them" : "it")})");
            await ClusterAgents.RemoveAsync(_session, context.Name, _session.RunId, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            await Teardown.RemoveContainerAsync(_session, context.ContainerId, TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        await warm.AfterReadyAsync(cluster, context.ContainerStartedAt, cancellationToken).ConfigureAwait(false);
        return cluster;
    }

    /// <summary>
    /// Removes this start's container (whatever state it reached: a create cut off by the cancellation may still have
    /// made it, so it is looked up by name and run) with its volumes.
    /// </summary>
    private async Task RemoveCreatedAsync(ClusterStartContext context)
    {
        if (context.Name.Length == 0)
        {
            return;
        }

        var container = await DockerContainers.FindByNameAsync(_session.Docker, context.Name, CancellationToken.None).ConfigureAwait(false);
        if (container is null || !KubeDindLabels.IsOwned(container.Config?.Labels)
            || Sweep.Label(container.Config?.Labels, KubeDindLabels.RunId) != _session.RunId)
        {
            return;
        }

        await ClusterAgents.RemoveAsync(_session, context.Name, _session.RunId, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        await Teardown.RemoveContainerAsync(_session, container.ID, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
        await Teardown.RemoveVolumesAsync(_session, context.Name, _session.RunId, CancellationToken.None).ConfigureAwait(false);
    }
}
