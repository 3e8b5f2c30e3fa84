using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Mirror;
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
    /// in without being asked) or the k3s binary to bake in, the mirror StartMirror started (<see cref="ClusterSettings.WithMirror(KubeDindMirror)"/>), and the build's
    /// artifacts directory for the kubeconfig and diagnostics bundles.
    /// </summary>
    public static ClusterSettings ClusterBase(
        ClusterSettings settings,
        string? clusterName,
        IEnumerable<string>? k3sArgs,
        KubeDindMirror? mirror,
        string? k3sBinary = null,
        string? artifactsDirectory = null,
        string? k3sVersion = null)
    {
        var result = settings with
        {
            Name = string.IsNullOrWhiteSpace(clusterName) ? settings.Name : clusterName.Trim(),
            K3sArgs = [.. settings.K3sArgs, .. SplitK3sArgs(k3sArgs)],
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

        return mirror is null ? result : result.WithMirror(mirror);
    }

    /// <summary>
    /// k3s arguments arrive as one or more strings (a CI variable often holds them all in one);
    /// each is split as <see cref="ArgumentLine"/> splits it, so <c>"--disable=traefik --kubelet-arg=v=2"</c> becomes two
    /// arguments and a double-quoted value with spaces stays whole.
    /// Nuke reads any command-line value starting with '-' as the next parameter, so on the command line
    /// they are written without dashes (<c>--kubedind-k3s-args disable=traefik</c>) and get <c>--</c> put back here.
    /// </summary>
    public static IReadOnlyList<string> SplitK3sArgs(IEnumerable<string>? values) =>
        (values ?? [])
            .SelectMany(ArgumentLine.Split)
            .Select(a => a.StartsWith('-') ? a : "--" + a)
            .ToList();

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

    /// <summary>Checks the declared images before anything is started (the core's own checks): tags, contexts, Dockerfiles, no tag twice.</summary>
    public static IReadOnlyList<KubeDindImage> ValidateImages(IEnumerable<KubeDindImage>? images)
    {
        var list = (images ?? []).ToList();
        foreach (var image in list)
        {
            if (string.IsNullOrWhiteSpace(image.Tag))
            {
                throw new KubeDindException("An image declared in IKubeDind.Images has no tag: give each KubeDindImage a tag such as 'my-app:dev'.");
            }

            if (image.ToBuildSettings() is { } build)
            {
                BuildImage.Validate(build);
            }
        }

        var duplicate = list.GroupBy(i => i.Tag, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new KubeDindException($"Image '{duplicate.Key}' is declared {duplicate.Count()} times in IKubeDind.Images: declare each tag once.");
        }

        return list;
    }

    /// <summary>Refuses an empty deployment up front; the core checks each manifest (path, directory, glob) itself.</summary>
    public static void ValidateDeployment(DeploySettings deployment)
    {
        if (deployment.Manifests.Count == 0 && deployment.InlineManifests.Count == 0)
        {
            throw new KubeDindException("Deploy has no manifests: override IKubeDind.Manifests (or IKubeDind.DeploySettings) with the YAML files to apply.");
        }
    }
}
