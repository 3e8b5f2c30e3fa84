using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Existing;
using Nuke.Common.Tooling;

namespace Nuke.KubeDind;

/// <summary>
/// Turns the component's parameters into its part of the core's settings (the "...SettingsBase" of
/// <see cref="IKubeDind"/>); the user's <c>Configure&lt;...&gt;</c> override is applied after it and has the last
/// word. Pure functions: no Docker, no build instance, so the tests check them directly. Every decision
/// (default name, mirror wiring, which k3s) stays in the core.
/// </summary>
internal static class KubeDindSettingsMapping
{
    public static ExistingClusterSettings Connect(Configure<ExistingClusterSettings> baseSettings, Configure<ExistingClusterSettings> userSettings) =>
        userSettings(baseSettings(new ExistingClusterSettings()));

    /// <summary>The component's part of the existing-cluster settings: kubeconfig and context from the parameters, diagnostics under the build's artifacts.</summary>
    public static ExistingClusterSettings ConnectBase(ExistingClusterSettings settings, string? kubeconfig, string? context, string? artifactsDirectory) =>
        settings with
        {
            Kubeconfig = kubeconfig ?? settings.Kubeconfig,
            Context = string.IsNullOrWhiteSpace(context) ? settings.Context : context.Trim(),
            ArtifactsDirectory = artifactsDirectory ?? settings.ArtifactsDirectory,
        };

    /// <summary>
    /// The component's part of the cluster settings: the name and extra k3s arguments from the parameters, the k3s
    /// release to download (which wins over a k3s binary, since KUBEDIND_K3S_BINARY in a CI environment fills that one
    /// in without being asked) or the k3s binary to bake in, and the build's artifacts directory for the kubeconfig and
    /// diagnostics bundles. The mirror is wired by the core's run plan.
    /// </summary>
    public static ClusterSettings ClusterBase(
        ClusterSettings settings,
        string? clusterName,
        IEnumerable<string>? k3sArgs,
        string? k3sBinary = null,
        string? artifactsDirectory = null,
        string? k3sVersion = null)
    {
        var result = settings with
        {
            Name = string.IsNullOrWhiteSpace(clusterName) ? settings.Name : clusterName.Trim(),
            K3sArgs = [.. settings.K3sArgs, .. ArgumentLine.K3sArguments(k3sArgs)],
        };
        if (!string.IsNullOrWhiteSpace(k3sVersion))
        {
            result = result.WithK3sVersion(k3sVersion.Trim());
        }
        else if (k3sBinary is not null)
        {
            result = result with { ImageBuild = (settings.ImageBuild ?? new ClusterImageSettings()) with { K3sBinary = k3sBinary } };
        }

        if (artifactsDirectory is not null && settings.ArtifactsDirectory == new ClusterSettings().ArtifactsDirectory)
        {
            result = result with { ArtifactsDirectory = artifactsDirectory };
        }

        return result;
    }

    /// <summary>
    /// The component's part of the deployment: the manifests the build declares (files, directories or
    /// globs), with relative ones resolved against the build's root directory.
    /// </summary>
    public static DeploySettings DeploymentBase(DeploySettings settings, IEnumerable<string>? manifests, string? rootDirectory)
    {
        var declared = (manifests ?? []).Where(m => !settings.Manifests.Contains(m)).ToList();
        return settings with
        {
            Manifests = [.. settings.Manifests, .. declared],
            BaseDirectory = settings.BaseDirectory ?? rootDirectory,
        };
    }
}
