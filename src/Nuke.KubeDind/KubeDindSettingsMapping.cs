using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Existing;
using KubeDind.Mirror;
using Nuke.Common.Tooling;

namespace Nuke.KubeDind;

/// <summary>
/// Turns the component's parameters and the user's <c>Configure&lt;...&gt;</c> overrides into the core's
/// settings objects. Pure functions: no Docker, no build instance, so the tests check them directly.
/// Order is always: the core's defaults → the component's base (parameters, mirror wiring) → the user's
/// override, so the user has the last word on every field.
/// </summary>
public static class KubeDindSettingsMapping
{
    /// <summary>Default cluster name when <c>--cluster-name</c> is not given: unique per run.</summary>
    public static string DefaultClusterName(string runId) => $"kubedind-{runId}";

    public static MirrorSettings Mirror(Configure<MirrorSettings> baseSettings, Configure<MirrorSettings> userSettings) =>
        userSettings(baseSettings(new MirrorSettings()));

    /// <summary>The component's part of the mirror settings: none beyond the core's defaults.</summary>
    public static MirrorSettings MirrorBase(MirrorSettings settings) => settings;

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

    public static ClusterSettings Cluster(Configure<ClusterSettings> baseSettings, Configure<ClusterSettings> userSettings) =>
        userSettings(baseSettings(new ClusterSettings()));

    /// <summary>
    /// The component's part of the cluster settings: the name, extra k3s arguments and k3s binary from the
    /// parameters; the mirror StartMirror started (reached over the shared network) as the cluster's
    /// pull-through cache; the per-run kubeconfig under the build's artifacts, not the working directory.
    /// </summary>
    public static ClusterSettings ClusterBase(
        ClusterSettings settings,
        string? clusterName,
        IEnumerable<string>? k3sArgs,
        KubeDindMirror? mirror,
        string runId,
        string? k3sBinary = null,
        string? artifactsDirectory = null)
    {
        var name = string.IsNullOrWhiteSpace(clusterName) ? DefaultClusterName(runId) : clusterName.Trim();
        var result = settings with { Name = name, K3sArgs = [.. settings.K3sArgs, .. SplitK3sArgs(k3sArgs)] };
        if (k3sBinary is not null)
        {
            result = result with { ImageBuild = (settings.ImageBuild ?? new ClusterImageSettings()) with { K3sBinary = k3sBinary } };
        }

        if (artifactsDirectory is not null && settings.ArtifactsDirectory == new ClusterSettings().ArtifactsDirectory)
        {
            // Kubeconfig and diagnostics bundles go under the build's artifacts, not the working directory.
            result = result with { ArtifactsDirectory = artifactsDirectory };
        }

        if (mirror is not null)
        {
            result = result.WithMirror(mirror) with { Network = settings.Network ?? mirror.Network };
        }

        return result;
    }

    /// <summary>
    /// k3s arguments arrive as one or more strings (a CI variable often holds them all in one);
    /// each is split on whitespace so <c>"--disable=traefik --kubelet-arg=v=2"</c> becomes two arguments.
    /// Nuke reads any command-line value starting with '-' as the next parameter, so on the command line
    /// they are written without dashes (<c>--k3s-args disable=traefik</c>) and get <c>--</c> put back here.
    /// </summary>
    public static IReadOnlyList<string> SplitK3sArgs(IEnumerable<string>? values) =>
        (values ?? [])
            .SelectMany(v => v.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(a => a.StartsWith('-') ? a : "--" + a)
            .ToList();

    public static DeploySettings Deployment(Configure<DeploySettings> baseSettings, Configure<DeploySettings> userSettings) =>
        userSettings(baseSettings(new DeploySettings()));

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

    /// <summary>Checks the declared images before anything is started: every tag present, no tag twice, contexts exist.</summary>
    public static IReadOnlyList<KubeDindImage> ValidateImages(IEnumerable<KubeDindImage>? images)
    {
        var list = (images ?? []).ToList();
        foreach (var image in list)
        {
            if (string.IsNullOrWhiteSpace(image.Tag))
            {
                throw new KubeDindException("An image declared in IKubeDind.Images has no tag: give each KubeDindImage a tag such as 'my-app:dev'.");
            }

            if (image.Context is not null && !Directory.Exists(image.Context))
            {
                throw new KubeDindException($"The build context '{image.Context}' of image '{image.Tag}' does not exist: point KubeDindImage.Context at the directory holding its Dockerfile.");
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
