using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;

namespace KubeDind.Cluster;

/// <summary>
/// Puts the files of <see cref="K3sConfiguration"/> into a created (not yet started) container through the engine's
/// archive API: config.yaml and registries.yaml, and the air-gap images tarball when the settings name one.
/// </summary>
internal static class K3sConfigurationFiles
{
    public const string ConfigPath = "/etc/rancher/k3s/config.yaml";
    public const string RegistriesPath = "/etc/rancher/k3s/registries.yaml";
    public const string ImagesDirectory = "/var/lib/rancher/k3s/agent/images";

    /// <summary>Copies the files into the created (not yet started) container.</summary>
    public static Task CopyIntoAsync(IDockerClient docker, string cluster, string containerId, ClusterSettings settings, CancellationToken cancellationToken) =>
        CopyFilesAsync(docker, cluster, containerId, K3sConfiguration.ConfigJson(cluster, settings), K3sConfiguration.RegistriesJson(cluster, settings), settings.AirgapImages, cancellationToken);

    /// <summary>
    /// Copies an agent's files into its created container: its config.yaml, registries.yaml with <c>localhost:5000</c> at
    /// the server's registry, and the air-gap images (pods such as CoreDNS may be scheduled on any node).
    /// </summary>
    public static Task CopyIntoAgentAsync(IDockerClient docker, string cluster, string containerId, ClusterSettings settings, CancellationToken cancellationToken) =>
        CopyFilesAsync(docker, cluster, containerId, K3sConfiguration.AgentConfigJson(cluster, settings), K3sConfiguration.RegistriesJson(cluster, settings, K3sConfiguration.ServerRegistry(cluster)), settings.AirgapImages, cancellationToken);

    private static async Task CopyFilesAsync(IDockerClient docker, string cluster, string containerId, string config, string registries, string? airgapImages, CancellationToken cancellationToken)
    {
        using (var configs = new MemoryStream())
        {
            await using (var tar = TarArchive.Over(configs))
            {
                await tar.AddTextAsync(ConfigPath.TrimStart('/'), config, TarArchive.Regular, cancellationToken).ConfigureAwait(false);
                await tar.AddTextAsync(RegistriesPath.TrimStart('/'), registries, TarArchive.Regular, cancellationToken).ConfigureAwait(false);
            }

            configs.Position = 0;
            await ExtractAsync(docker, cluster, containerId, "/", configs, "k3s's config.yaml and registries.yaml", cancellationToken).ConfigureAwait(false);
        }

        if (airgapImages is not { } airgap)
        {
            return;
        }

        // Relative to the k3s volume's mount point: agent/images does not exist before k3s first runs.
        var directory = ImagesDirectory["/var/lib/rancher/k3s/".Length..];
        await using var stream = await TarArchive.ToTemporaryFileAsync(
            "airgap",
            async tar =>
            {
                await tar.AddDirectoryAsync("agent", cancellationToken).ConfigureAwait(false);
                await tar.AddDirectoryAsync(directory, cancellationToken).ConfigureAwait(false);
                await tar.AddFileAsync($"{directory}/{Path.GetFileName(airgap)}", airgap, TarArchive.Regular, cancellationToken).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
        await ExtractAsync(docker, cluster, containerId, "/var/lib/rancher/k3s", stream, $"the air-gap images {airgap}", cancellationToken).ConfigureAwait(false);
    }

    private static async Task ExtractAsync(IDockerClient docker, string cluster, string containerId, string path, Stream tar, string what, CancellationToken cancellationToken)
    {
        try
        {
            await docker.Containers.ExtractArchiveToContainerAsync(containerId, new ContainerPathStatParameters { Path = path }, tar, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"cluster {cluster}: cannot copy {what} into the container: {DockerEngine.FirstLine(ex)}", inner: ex);
        }
    }
}
