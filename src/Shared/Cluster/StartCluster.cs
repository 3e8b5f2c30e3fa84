using KubeDind.Logging;
using KubeDind.Networking;

namespace KubeDind.Cluster;

/// <summary>
/// Starts a kube-dind cluster, one small step after another on a shared <see cref="ClusterStartContext"/> (as kind's
/// actions do): sweep leftovers of dead runs, choose and check the name and ports, resolve the image, join the shared
/// network, start the container (<see cref="ClusterContainerSpec"/>, privileged or the fallback), and wait for it gate
/// by gate (<see cref="ClusterReadiness"/>). A start that fails removes what it created.
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
        var context = new ClusterStartContext(_session, settings);
        if (settings.SweepFirst)
        {
            await new Sweep(_session).RunAsync(new SweepSettings(), cancellationToken).ConfigureAwait(false);
        }

        context.Name = await ClusterStartChecks.ChooseNameAsync(_session, settings, cancellationToken).ConfigureAwait(false);
        ClusterStartChecks.CheckPorts(context.Name, settings);
        context.Image = await ClusterImage.ResolveAsync(_session, context.Name, settings, cancellationToken).ConfigureAwait(false);
        context.ImageReady = context.Watch.Elapsed;
        await KubeDindNetwork.EnsureAsync(_session, settings.NetworkOrDefault, cancellationToken).ConfigureAwait(false);

        var spec = new ClusterContainerSpec(context.Name, context.Image, settings, _session.RunId);
        (context.ContainerId, context.Privilege) = await new PrivilegedStarter(_session).StartAsync(spec, cancellationToken).ConfigureAwait(false);
        context.ContainerStarted = context.Watch.Elapsed;
        _session.Log.Info($"cluster {context.Name}: container started after {context.ContainerStarted.TotalSeconds:0.0}s ({context.Privilege.ToString().ToLowerInvariant()}); waiting for readiness");
        try
        {
            return await ClusterReadiness.WaitAsync(context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!settings.KeepOnFailure)
        {
            _session.Log.Info($"cluster {context.Name}: start failed; removing its container (set KeepOnFailure to keep it)");
            await Teardown.RemoveContainerAsync(_session, context.ContainerId, TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }
}
