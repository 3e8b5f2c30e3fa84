using Cake.Core.IO;
using KubeDind.Cluster;
using KubeDind.Mirror;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindStartCluster</c>: one kube-dind container (dockerd + registry + k3s, or compose
/// mode without Kubernetes). Every property left null keeps the core's default (<see cref="ClusterSettings"/>);
/// relative paths are resolved against Cake's working directory.
/// </summary>
public sealed class KubeDindClusterSettings
{
    /// <summary>Container name; default <c>kubedind-&lt;run id&gt;</c>.</summary>
    public string? Name { get; set; }

    /// <summary>The kube-dind image; default <c>kubedind/kube-dind:&lt;version&gt;</c>, built when missing.</summary>
    public string? Image { get; set; }

    /// <summary>A k3s binary to build into the image (the air-gapped way to get Kubernetes).</summary>
    public FilePath? K3sBinary { get; set; }

    /// <summary>Download the pinned k3s release while building the image (needs internet).</summary>
    public bool K3sDownload { get; set; }

    /// <summary>A k3s air-gap images tarball baked into the image.</summary>
    public FilePath? AirgapImagesTarball { get; set; }

    /// <summary>Rebuild the image even when one with the same inputs exists.</summary>
    public bool ForceImageBuild { get; set; }

    /// <summary>
    /// The tag for the kube-dind image built from the settings above; default a tag naming its inputs
    /// (kubedind/kube-dind:&lt;version&gt;-&lt;compose|k3s&gt;-&lt;input hash&gt;), so builds with different inputs never share one.
    /// </summary>
    public string? ImageTag { get; set; }

    /// <summary>The mirror from <c>KubeDindStartMirror</c>: the cluster pulls each covered registry's images through it and joins its network.</summary>
    public KubeDindMirror? Mirror { get; set; }

    /// <summary>More Docker Hub mirrors, as the cluster container reaches them.</summary>
    public List<string> MirrorUrls { get; } = [];

    /// <summary>Docker network to join; default the shared <c>kubedind</c> network (or the mirror's).</summary>
    public string? Network { get; set; }

    /// <summary>False = compose mode (dockerd + registry + docker compose, no Kubernetes); default true.</summary>
    public bool? Kubernetes { get; set; }

    public TimeSpan? ReadinessTimeout { get; set; }

    public PrivilegeMode? Privilege { get; set; }

    /// <summary>Extra k3s server arguments.</summary>
    public List<string> K3sArgs { get; } = [];

    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);

    /// <summary>Host address the ports are published on; default 127.0.0.1.</summary>
    public string? HostAddress { get; set; }

    public int? RegistryHostPort { get; set; }

    public int? ApiHostPort { get; set; }

    /// <summary>Container ports (NodePorts) published on the host, for system tests.</summary>
    public List<PortMapping> Ports { get; } = [];

    public List<BindMount> Mounts { get; } = [];

    /// <summary>Diagnostics bundles (and by default the kubeconfig) go under &lt;this&gt;/&lt;cluster name&gt;/; default artifacts/kubedind.</summary>
    public DirectoryPath? ArtifactsDirectory { get; set; }

    /// <summary>Where the per-run kubeconfig goes (one cluster per directory); default &lt;ArtifactsDirectory&gt;/&lt;name&gt;/.</summary>
    public DirectoryPath? KubeconfigDirectory { get; set; }

    public TimeSpan? StopTimeout { get; set; }

    /// <summary>Keep the container when the start fails, for debugging.</summary>
    public bool? KeepOnFailure { get; set; }

    /// <summary>Remove clusters of dead runs before starting; default true.</summary>
    public bool? SweepFirst { get; set; }

    internal ClusterSettings ToCore(DirectoryPath workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(workingDirectory);
        var core = new ClusterSettings();
        var imageBuild = K3sBinary is not null || K3sDownload || AirgapImagesTarball is not null || ForceImageBuild || ImageTag is not null
            ? new ClusterImageSettings
            {
                K3sBinary = K3sBinary?.MakeAbsolute(workingDirectory).FullPath,
                K3sDownload = K3sDownload,
                AirgapImagesTarball = AirgapImagesTarball?.MakeAbsolute(workingDirectory).FullPath,
                Force = ForceImageBuild,
                Tag = ImageTag,
            }
            : null;
        core = core with
        {
            Name = Name,
            Image = Image,
            ImageBuild = imageBuild,
            MirrorUrls = [.. MirrorUrls],
            Network = Network,
            Kubernetes = Kubernetes ?? core.Kubernetes,
            ReadinessTimeout = ReadinessTimeout ?? core.ReadinessTimeout,
            Privilege = Privilege ?? core.Privilege,
            K3sArgs = [.. K3sArgs],
            Environment = new Dictionary<string, string>(Environment, StringComparer.Ordinal),
            Labels = new Dictionary<string, string>(Labels, StringComparer.Ordinal),
            HostAddress = HostAddress ?? core.HostAddress,
            RegistryHostPort = RegistryHostPort ?? core.RegistryHostPort,
            ApiHostPort = ApiHostPort ?? core.ApiHostPort,
            Ports = [.. Ports],
            Mounts = [.. Mounts.Select(m => m with { HostPath = new FilePath(m.HostPath).MakeAbsolute(workingDirectory).FullPath })],
            ArtifactsDirectory = KubeDindPaths.Artifacts(ArtifactsDirectory, workingDirectory),
            KubeconfigDirectory = KubeconfigDirectory?.MakeAbsolute(workingDirectory).FullPath,
            StopTimeout = StopTimeout ?? core.StopTimeout,
            KeepOnFailure = KeepOnFailure ?? core.KeepOnFailure,
            SweepFirst = SweepFirst ?? core.SweepFirst,
        };
        return Mirror is null ? core : core.WithMirror(Mirror);
    }
}

public static class KubeDindClusterSettingsExtensions
{
    public static KubeDindClusterSettings WithName(this KubeDindClusterSettings settings, string name) => Set(settings, s => s.Name = name);

    public static KubeDindClusterSettings WithImage(this KubeDindClusterSettings settings, string image) => Set(settings, s => s.Image = image);

    /// <summary>Builds the image with this k3s binary; null or "" leaves the setting as it is, so an optional argument can be passed straight on.</summary>
    public static KubeDindClusterSettings WithK3sBinary(this KubeDindClusterSettings settings, FilePath? k3sBinary) =>
        Set(settings, s => s.K3sBinary = string.IsNullOrWhiteSpace(k3sBinary?.FullPath) ? s.K3sBinary : k3sBinary);

    public static KubeDindClusterSettings WithK3sDownload(this KubeDindClusterSettings settings, bool download = true) => Set(settings, s => s.K3sDownload = download);

    public static KubeDindClusterSettings WithAirgapImages(this KubeDindClusterSettings settings, FilePath tarball) => Set(settings, s => s.AirgapImagesTarball = tarball);

    public static KubeDindClusterSettings WithImageTag(this KubeDindClusterSettings settings, string tag) => Set(settings, s => s.ImageTag = tag);

    public static KubeDindClusterSettings WithForcedImageBuild(this KubeDindClusterSettings settings, bool force = true) => Set(settings, s => s.ForceImageBuild = force);

    public static KubeDindClusterSettings WithMirror(this KubeDindClusterSettings settings, KubeDindMirror mirror) => Set(settings, s => s.Mirror = mirror);

    public static KubeDindClusterSettings WithMirrorUrl(this KubeDindClusterSettings settings, string url) => Set(settings, s => s.MirrorUrls.Add(url));

    public static KubeDindClusterSettings WithNetwork(this KubeDindClusterSettings settings, string network) => Set(settings, s => s.Network = network);

    public static KubeDindClusterSettings WithKubernetes(this KubeDindClusterSettings settings, bool kubernetes = true) => Set(settings, s => s.Kubernetes = kubernetes);

    /// <summary>Compose mode: dockerd + registry + docker compose, no Kubernetes.</summary>
    public static KubeDindClusterSettings WithComposeMode(this KubeDindClusterSettings settings) => Set(settings, s => s.Kubernetes = false);

    public static KubeDindClusterSettings WithReadinessTimeout(this KubeDindClusterSettings settings, TimeSpan timeout) => Set(settings, s => s.ReadinessTimeout = timeout);

    public static KubeDindClusterSettings WithPrivilege(this KubeDindClusterSettings settings, PrivilegeMode privilege) => Set(settings, s => s.Privilege = privilege);

    public static KubeDindClusterSettings WithK3sArgs(this KubeDindClusterSettings settings, params string[] args) => Set(settings, s => s.K3sArgs.AddRange(args));

    /// <summary>Adds k3s arguments given as one command line (as passed by <c>--k3s-args="..."</c>): split on white space, double quotes group.</summary>
    public static KubeDindClusterSettings WithK3sArgsLine(this KubeDindClusterSettings settings, string? commandLine) =>
        Set(settings, s => s.K3sArgs.AddRange(CommandLine.Split(commandLine)));

    public static KubeDindClusterSettings WithEnvironment(this KubeDindClusterSettings settings, string name, string value) => Set(settings, s => s.Environment[name] = value);

    public static KubeDindClusterSettings WithLabel(this KubeDindClusterSettings settings, string name, string value) => Set(settings, s => s.Labels[name] = value);

    public static KubeDindClusterSettings WithHostAddress(this KubeDindClusterSettings settings, string address) => Set(settings, s => s.HostAddress = address);

    public static KubeDindClusterSettings WithRegistryHostPort(this KubeDindClusterSettings settings, int port) => Set(settings, s => s.RegistryHostPort = port);

    public static KubeDindClusterSettings WithApiHostPort(this KubeDindClusterSettings settings, int port) => Set(settings, s => s.ApiHostPort = port);

    /// <summary>Publishes <paramref name="containerPort"/> (a NodePort, say) on the host; 0 = any free host port.</summary>
    public static KubeDindClusterSettings WithPublishedPort(this KubeDindClusterSettings settings, int containerPort, int hostPort = 0, string protocol = "tcp") =>
        Set(settings, s => s.Ports.Add(new PortMapping(containerPort, hostPort, protocol)));

    public static KubeDindClusterSettings WithMount(this KubeDindClusterSettings settings, DirectoryPath hostPath, string containerPath, bool readOnly = false) =>
        Set(settings, s => s.Mounts.Add(new BindMount(hostPath.FullPath, containerPath, readOnly)));

    public static KubeDindClusterSettings WithArtifactsDirectory(this KubeDindClusterSettings settings, DirectoryPath directory) => Set(settings, s => s.ArtifactsDirectory = directory);

    public static KubeDindClusterSettings WithKubeconfigDirectory(this KubeDindClusterSettings settings, DirectoryPath directory) => Set(settings, s => s.KubeconfigDirectory = directory);

    public static KubeDindClusterSettings WithStopTimeout(this KubeDindClusterSettings settings, TimeSpan timeout) => Set(settings, s => s.StopTimeout = timeout);

    public static KubeDindClusterSettings WithKeepOnFailure(this KubeDindClusterSettings settings, bool keep = true) => Set(settings, s => s.KeepOnFailure = keep);

    public static KubeDindClusterSettings WithSweepFirst(this KubeDindClusterSettings settings, bool sweep = true) => Set(settings, s => s.SweepFirst = sweep);

    private static KubeDindClusterSettings Set(KubeDindClusterSettings settings, Action<KubeDindClusterSettings> change)
    {
        ArgumentNullException.ThrowIfNull(settings);
        change(settings);
        return settings;
    }
}
