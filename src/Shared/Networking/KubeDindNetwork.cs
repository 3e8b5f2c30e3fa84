using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Networking;

/// <summary>
/// The Docker bridge network shared by the mirror and every cluster (<see cref="DefaultName"/>): containers
/// on it reach each other by name, e.g. the docker.io mirror at http://kubedind-mirror-docker-io:5000.
/// </summary>
public static class KubeDindNetwork
{
    public const string DefaultName = "kubedind";
    public const string Role = "network";

    /// <summary>
    /// Returns the id of the network called <paramref name="name"/>, creating it (bridge, labelled) when missing.
    /// Safe against other processes doing the same at once: the engine rejects the second create and the
    /// existing network is used.
    /// </summary>
    public static async Task<string> EnsureAsync(KubeDindSession session, string name = DefaultName, CancellationToken cancellationToken = default)
    {
        var existing = await FindAsync(session.Docker, name, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            if (!KubeDindLabels.IsOwned(existing.Labels))
            {
                session.Log.Warn($"network {name}: exists but was not created by KubeDind; using it as it is");
            }

            session.Log.Debug($"network {name}: using {existing.ID[..12]}");
            return existing.ID;
        }

        try
        {
            var created = await session.Docker.Networks.CreateNetworkAsync(
                new NetworksCreateParameters
                {
                    Name = name,
                    Driver = "bridge",
                    CheckDuplicate = true,
                    Attachable = true,
                    Labels = KubeDindLabels.ForResource(Role, session.RunId),
                },
                cancellationToken).ConfigureAwait(false);
            session.Log.Info($"network {name}: created ({created.ID[..12]})");
            return created.ID;
        }
        catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            // Another process created it between our look-up and our create.
            var raced = await FindAsync(session.Docker, name, cancellationToken).ConfigureAwait(false);
            return raced?.ID ?? throw new KubeDindException($"network {name}: cannot be created ({DockerEngine.FirstLine(ex)}); remove the conflicting network or choose another name.", inner: ex);
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"network {name}: cannot be created ({DockerEngine.FirstLine(ex)}); check the engine's address pools (docker network ls).", inner: ex);
        }
    }

    /// <summary>The network called exactly <paramref name="name"/> (the oldest, should duplicates exist), or null.</summary>
    public static async Task<NetworkResponse?> FindAsync(IDockerClient docker, string name, CancellationToken cancellationToken)
    {
        var networks = await docker.Networks.ListNetworksAsync(
            new NetworksListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [name] = true } } },
            cancellationToken).ConfigureAwait(false);

        // The engine's name filter matches substrings.
        return networks.Where(n => n.Name == name).OrderBy(n => n.Created).FirstOrDefault();
    }

    /// <summary>
    /// Attaches <paramref name="containerId"/> to the network under <paramref name="aliases"/> unless it is already
    /// attached; for containers created before the network existed or attached elsewhere.
    /// </summary>
    public static async Task ConnectAsync(IDockerClient docker, string networkId, string containerId, IReadOnlyList<string> aliases, CancellationToken cancellationToken)
    {
        var container = await docker.Containers.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
        if (container.NetworkSettings?.Networks?.Values.Any(n => n.NetworkID == networkId) == true)
        {
            return;
        }

        await docker.Networks.ConnectNetworkAsync(
            networkId,
            new NetworkConnectParameters { Container = containerId, EndpointConfig = new EndpointSettings { Aliases = aliases.ToList() } },
            cancellationToken).ConfigureAwait(false);
    }
}
