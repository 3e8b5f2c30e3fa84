using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Networking;

namespace KubeDind.Cluster;

/// <summary>
/// The checks before anything is created: the name (valid, free, or a unique default), the host address and
/// the ports (in range, not KubeDind's own, free on the host). Each failure is one line naming the input.
/// </summary>
internal static class ClusterStartChecks
{
    /// <summary>The requested name once it is valid and free, or <c>kubedind-&lt;run id&gt;</c> (with a suffix when taken).</summary>
    public static async Task<string> ChooseNameAsync(KubeDindSession session, ClusterSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Name is { } requested)
        {
            DockerContainers.ValidateName("cluster", requested);
            await CheckNameFreeAsync(session, requested, cancellationToken).ConfigureAwait(false);
            return requested;
        }

        var baseName = ClusterSettings.DefaultName(session.RunId);
        for (var i = 1; ; i++)
        {
            var candidate = i == 1 ? baseName : $"{baseName}-{i}";
            if (await DockerContainers.FindByNameAsync(session.Docker, candidate, cancellationToken).ConfigureAwait(false) is null)
            {
                return candidate;
            }
        }
    }

    /// <summary>
    /// Each of <see cref="ClusterSettings.ImagesToPush"/> named once, on the engine, and by a name (not an id): a missing
    /// one costs one line and no container, rather than a failed start after the container booted.
    /// </summary>
    public static async Task CheckImagesToPushAsync(KubeDindSession session, string name, ClusterSettings settings, CancellationToken cancellationToken)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var images = new ImageStore(session.Docker, session.Log);
        foreach (var image in settings.ImagesToPush)
        {
            if (string.IsNullOrWhiteSpace(image))
            {
                throw new KubeDindException($"cluster {name}: ClusterSettings.ImagesToPush has an empty entry; name each image as the engine knows it, e.g. 'my-app:dev'.");
            }

            if (!seen.Add(image))
            {
                throw new KubeDindException($"cluster {name}: ClusterSettings.ImagesToPush names '{image}' twice; name each image once.");
            }

            var found = await images.InspectAsync(image, cancellationToken).ConfigureAwait(false)
                ?? throw new KubeDindException($"cluster {name}: ClusterSettings.ImagesToPush names '{image}', which is not on the Docker engine; build or pull it before the start (docker images lists what is there).");
            PushImage.ClusterImageName(image, name: null, found.ID);
        }
    }

    /// <summary>Ports in range and not KubeDind's own; with a local engine also free on <paramref name="publishing"/>'s address (a remote engine says so itself at start).</summary>
    public static void CheckPorts(string name, ClusterSettings settings, PortPublishing publishing)
    {
        var requested = new List<(string What, int Port)> { ("registry", settings.RegistryHostPort) };
        if (settings.Kubernetes)
        {
            requested.Add(("Kubernetes API", settings.ApiHostPort));
        }

        requested.AddRange(settings.Ports.Select(p => ($"container port {p.ContainerPort}", p.HostPort)));
        foreach (var mapping in settings.Ports)
        {
            if (mapping.ContainerPort is <= 0 or > 65535 || mapping.ContainerPort is ClusterContainerSpec.RegistryContainerPort or ClusterContainerSpec.ApiContainerPort)
            {
                throw new KubeDindException($"cluster {name}: PortMapping container port {mapping.ContainerPort} is invalid; give 1-65535 other than 5000 and 6443 (published already).");
            }
        }

        foreach (var (what, port) in requested.Where(r => r.Port != 0))
        {
            if (port is < 0 or > 65535)
            {
                throw new KubeDindException($"cluster {name}: {what} host port {port} is invalid; give 1-65535, or 0 for a free port.");
            }

            if (HostPorts.IsTaken(publishing, port))
            {
                throw new KubeDindException($"cluster {name}: {what} host port {publishing.BindAddress}:{port} is taken; choose another port, or 0 for a free one.");
            }
        }
    }

    /// <summary>
    /// The artifacts directory (diagnostics, and by default the kubeconfig) can be written: checked before the start, so
    /// that a failure later does not lose its diagnostics.
    /// </summary>
    public static void CheckArtifactsDirectory(string name, ClusterSettings settings)
    {
        var directory = Path.GetFullPath(settings.ArtifactsDirectory);
        var probe = Path.Combine(directory, $".kubedind-write-test-{Guid.NewGuid():N}");
        try
        {
            PrivateFiles.CreateDirectory(directory);
            File.WriteAllText(probe, string.Empty);
            File.Delete(probe);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new KubeDindException($"cluster {name}: artifacts directory '{directory}' cannot be written ({ex.Message.TrimEnd('.')}); set ArtifactsDirectory to a writable directory (diagnostics and the kubeconfig go there).", inner: ex);
        }
    }

    private static async Task CheckNameFreeAsync(KubeDindSession session, string name, CancellationToken cancellationToken)
    {
        var existing = await DockerContainers.FindByNameAsync(session.Docker, name, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            return;
        }

        var labels = existing.Config?.Labels ?? new Dictionary<string, string>();
        if (!KubeDindLabels.IsOwned(labels))
        {
            throw new KubeDindException($"cluster name '{name}' is taken by a container KubeDind did not create ({existing.ID[..12]}); choose another Name.");
        }

        labels.TryGetValue(KubeDindLabels.RunId, out var runId);
        labels.TryGetValue(KubeDindLabels.OwnerPid, out var pid);
        var state = existing.State?.Status;
        if (state == "running" || runId != session.RunId)
        {
            throw new KubeDindException($"cluster name '{name}' is already used by a live cluster (run {runId}, pid {pid}, {state}); choose another Name or tear that cluster down.");
        }

        // A leftover of this run's own failed start: replace it.
        session.Log.Info($"cluster {name}: removing a stopped container of this run left by an earlier start");
        await Teardown.RemoveContainerAsync(session, existing.ID, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
    }
}
