using System.Formats.Tar;
using System.Text;
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
            await using (var tar = new TarWriter(configs, TarEntryFormat.Pax, leaveOpen: true))
            {
                await AddTextAsync(tar, ConfigPath, config, cancellationToken).ConfigureAwait(false);
                await AddTextAsync(tar, RegistriesPath, registries, cancellationToken).ConfigureAwait(false);
            }

            configs.Position = 0;
            await ExtractAsync(docker, cluster, containerId, "/", configs, "k3s's config.yaml and registries.yaml", cancellationToken).ConfigureAwait(false);
        }

        if (airgapImages is not { } airgap)
        {
            return;
        }

        // A temporary tar around the tarball: the engine's archive API takes a tar stream; the data is copied once more, not held in memory.
        var temp = Path.Combine(Path.GetTempPath(), $"kubedind-airgap-{Guid.NewGuid():N}.tar");
        try
        {
            await using (var file = File.Create(temp))
            await using (var tar = new TarWriter(file, TarEntryFormat.Pax, leaveOpen: false))
            {
                // Relative to the k3s volume's mount point: agent/images does not exist before k3s first runs.
                var directory = ImagesDirectory["/var/lib/rancher/k3s/".Length..];
                await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, "agent/") { Mode = Mode755 }, cancellationToken).ConfigureAwait(false);
                await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, directory + "/") { Mode = Mode755 }, cancellationToken).ConfigureAwait(false);
                await tar.WriteEntryAsync(airgap, $"{directory}/{Path.GetFileName(airgap)}", cancellationToken).ConfigureAwait(false);
            }

            await using var stream = File.OpenRead(temp);
            await ExtractAsync(docker, cluster, containerId, "/var/lib/rancher/k3s", stream, $"the air-gap images {airgap}", cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private const UnixFileMode Mode755 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private static async Task AddTextAsync(TarWriter tar, string path, string text, CancellationToken cancellationToken)
    {
        var entry = new PaxTarEntry(TarEntryType.RegularFile, path.TrimStart('/'))
        {
            DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)),
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
        };
        await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
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
