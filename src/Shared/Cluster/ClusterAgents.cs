using System.Diagnostics;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

/// <summary>
/// The agent nodes of a multi-node cluster (<see cref="ClusterSettings.Agents"/>): once the server has written its join
/// token, one container per agent (<see cref="ClusterAgentSpec"/>, with the server's privilege mode) is created, given
/// its k3s files and started; their readiness is a gate per node (<see cref="ClusterGates"/>). Removal finds them by
/// their labels, so a start that failed half-way and a sweep leave none behind.
/// </summary>
internal static class ClusterAgents
{
    /// <summary>Where the k3s server writes the token agents join with (K10&lt;CA hash&gt;::server:&lt;secret&gt;).</summary>
    public const string TokenPath = "/var/lib/rancher/k3s/server/token";

    public static async Task StartAsync(ClusterStartContext context, ClusterContainerSpec server, CancellationToken cancellationToken)
    {
        var (session, settings) = (context.Session, context.Settings);
        if (settings.Agents <= 0 || !settings.Kubernetes)
        {
            return;
        }

        var token = await ReadTokenAsync(session, server.Name, context.ContainerId, settings.ReadinessTimeout, cancellationToken).ConfigureAwait(false);
        var capabilities = context.Privilege == PrivilegeMode.Fallback ? await EngineCapabilities.ReadAsync(session, server.Image, cancellationToken).ConfigureAwait(false) : null;
        for (var index = 1; index <= settings.Agents; index++)
        {
            var spec = new ClusterAgentSpec(server, index, token);
            var id = await CreateAsync(session, spec, context.Privilege, capabilities, cancellationToken).ConfigureAwait(false);
            context.Agents.Add(new ClusterAgent(spec.Name, id, spec.NodeName));
            await K3sConfigurationFiles.CopyIntoAgentAsync(session.Docker, server.Name, id, settings, cancellationToken).ConfigureAwait(false);
            try
            {
                await session.Docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), cancellationToken).ConfigureAwait(false);
            }
            catch (DockerApiException ex)
            {
                throw new KubeDindException($"cluster {server.Name}: the engine cannot start agent {spec.Name}: {DockerEngine.FirstLine(ex)}", inner: ex);
            }
        }

        session.Log.Info($"cluster {server.Name}: {settings.Agents} agent(s) started after {context.Watch.Elapsed.TotalSeconds:0.0}s ({string.Join(", ", context.Agents.Select(a => a.Name))}), joining the server");
    }

    /// <summary>Waits for the server to write its join token (k3s does so within seconds of starting) and returns it.</summary>
    private static async Task<string> ReadTokenAsync(KubeDindSession session, string cluster, string containerId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var last = "not written yet";
        while (true)
        {
            var state = (await session.Docker.Containers.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false)).State;
            if (!state.Running)
            {
                throw new KubeDindException(
                    $"cluster {cluster}: the server container exited (code {state.ExitCode}) before agents could join; see the log lines below.",
                    await ContainerLogs.TailSectionAsync(session.Docker, containerId, "cluster container", 40, CancellationToken.None).ConfigureAwait(false));
            }

            var result = await ContainerExec.RunAsync(session.Docker, containerId, ["cat", TokenPath], cancellationToken: cancellationToken).ConfigureAwait(false);
            var token = result.StandardOutput.Trim();
            if (result.Succeeded && token.Length > 0)
            {
                session.Log.Debug($"cluster {cluster}: join token read after {watch.Elapsed.TotalSeconds:0.0}s");
                return token;
            }

            last = result.FirstErrorLine;
            if (watch.Elapsed > timeout)
            {
                throw new KubeDindException(
                    $"cluster {cluster}: k3s did not write its join token ({TokenPath}) within {timeout.TotalSeconds:0} s ({last}), so no agent can join; see the log lines below.",
                    await ContainerLogs.TailSectionAsync(session.Docker, containerId, "cluster container", 40, CancellationToken.None).ConfigureAwait(false));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<string> CreateAsync(KubeDindSession session, ClusterAgentSpec spec, PrivilegeMode mode, IReadOnlyList<string>? capabilities, CancellationToken cancellationToken)
    {
        try
        {
            var created = await session.Docker.Containers.CreateContainerAsync(spec.ToParameters(mode, capabilities), cancellationToken).ConfigureAwait(false);
            session.Log.Debug($"cluster {spec.Server.Name}: created agent {spec.Name} ({created.ID[..12]}, node {spec.NodeName})");
            return created.ID;
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
        {
            throw new KubeDindException($"cluster {spec.Server.Name}: agent name '{spec.Name}' is already used by another container; choose another cluster Name.", inner: ex);
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"cluster {spec.Server.Name}: the engine cannot create agent {spec.Name}: {DockerEngine.FirstLine(ex)}", inner: ex);
        }
    }

    /// <summary>
    /// Stops and removes the agent containers of cluster <paramref name="cluster"/> made by run <paramref name="runId"/>
    /// (found by their labels), giving each <paramref name="grace"/>; their volumes go with them. Returns their names.
    /// </summary>
    public static async Task<IReadOnlyList<string>> RemoveAsync(KubeDindSession session, string cluster, string runId, TimeSpan grace, CancellationToken cancellationToken)
    {
        var containers = await session.Docker.Containers.ListContainersAsync(
            new ContainersListParameters
            {
                All = true,
                Filters = new Dictionary<string, IDictionary<string, bool>>
                {
                    ["label"] = new Dictionary<string, bool>
                    {
                        [$"{KubeDindLabels.Owner}={KubeDindLabels.OwnerValue}"] = true,
                        [$"{KubeDindLabels.Cluster}={cluster}"] = true,
                        [$"{KubeDindLabels.RunId}={runId}"] = true,
                        [KubeDindLabels.Node] = true,
                    },
                },
            },
            cancellationToken).ConfigureAwait(false);
        var agents = containers.Where(c => KubeDindLabels.IsOwned(c.Labels) && c.Labels.ContainsKey(KubeDindLabels.Node)).ToList();
        var removed = await Task.WhenAll(agents.Select(async c =>
            await Teardown.RemoveContainerAsync(session, c.ID, grace, cancellationToken).ConfigureAwait(false)
                ? c.Names.FirstOrDefault()?.TrimStart('/') ?? c.ID[..12]
                : null)).ConfigureAwait(false);
        return removed.OfType<string>().ToList();
    }
}
