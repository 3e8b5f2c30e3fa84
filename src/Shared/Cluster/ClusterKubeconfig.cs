using System.Text.RegularExpressions;
using Docker.DotNet;
using KubeDind.Docker;

namespace KubeDind.Cluster;

/// <summary>
/// The per-run kubeconfig: copied out of the cluster container through the engine's archive API,
/// its server rewritten to the API's published host port, written with mode 0600. Never ~/.kube/config.
/// </summary>
internal static partial class ClusterKubeconfig
{
    /// <summary>Where k3s writes the kubeconfig inside the container (contract).</summary>
    public const string ContainerPath = "/etc/kubedind/kubeconfig.yaml";

    /// <summary>The kubeconfig text inside the container, or null while k3s has not written it.</summary>
    public static async Task<string?> ReadAsync(IDockerClient docker, string containerId, CancellationToken cancellationToken)
    {
        var content = await ContainerFiles.ReadTextAsync(docker, containerId, ContainerPath, cancellationToken).ConfigureAwait(false);
        return content is not null && content.Contains("server:", StringComparison.Ordinal) ? content : null;
    }

    /// <summary>Points every cluster entry at <paramref name="apiEndpoint"/> (https://127.0.0.1:port, or the remote engine's host, which k3s gets as --tls-san).</summary>
    public static string Rewrite(string kubeconfig, string apiEndpoint) =>
        ServerLine().Replace(kubeconfig, m => m.Groups[1].Value + apiEndpoint);

    /// <summary>Writes <paramref name="content"/> to <paramref name="path"/> readable by the owner only (0600 on Unix).</summary>
    public static async Task WriteAsync(string path, string content, CancellationToken cancellationToken)
    {
        PrivateFiles.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var file = new FileStream(temporary, options))
        await using (var writer = new StreamWriter(file))
        {
            await writer.WriteAsync(content.AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>
    /// The kubeconfig file for <paramref name="clusterName"/>: &lt;configured&gt;/&lt;name&gt;.kubeconfig.yaml (a directory several
    /// clusters may share), else &lt;artifacts&gt;/&lt;name&gt;/kubeconfig.yaml, else the same under a temp directory.
    /// </summary>
    public static string ChoosePath(string? configured, string artifactsDirectory, string clusterName)
    {
        if (configured is not null)
        {
            try
            {
                Directory.CreateDirectory(configured);
                return Path.Combine(Path.GetFullPath(configured), $"{clusterName}.kubeconfig.yaml");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new KubeDindException($"cluster {clusterName}: kubeconfig directory '{configured}' cannot be created ({ex.Message}); choose a writable KubeconfigDirectory.", inner: ex);
            }
        }

        var artifacts = Path.GetFullPath(Path.Combine(artifactsDirectory, clusterName));
        try
        {
            PrivateFiles.CreateDirectory(artifacts);
            return Path.Combine(artifacts, "kubeconfig.yaml");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            var temporary = Path.Combine(Path.GetTempPath(), "kubedind", clusterName);
            PrivateFiles.CreateDirectory(temporary);
            return Path.Combine(temporary, "kubeconfig.yaml");
        }
    }

    [GeneratedRegex(@"(?m)^(\s*server:\s*)\S+")]
    private static partial Regex ServerLine();
}
