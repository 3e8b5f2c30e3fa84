using Cake.Core.IO;
using KubeDind.Cluster;
using KubeDind.Mirror;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindStartCluster</c>: the core's <see cref="ClusterSettings"/> (one kube-dind container:
/// dockerd + registry + k3s, or compose mode without Kubernetes), changed through the <c>With...</c> methods or
/// <c>Configure(s =&gt; s with { ... })</c> for any field. Relative paths are resolved against Cake's working directory.
/// </summary>
public sealed class KubeDindClusterSettings
{
    /// <summary>The core's settings this wraps; every member has a working default.</summary>
    public ClusterSettings Core { get; set; } = new();

    /// <summary>The core settings with every relative path made absolute against <paramref name="workingDirectory"/>.</summary>
    internal ClusterSettings ToCore(DirectoryPath workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(workingDirectory);
        string Absolute(string path) => new FilePath(path).MakeAbsolute(workingDirectory).FullPath;
        var core = Core;
        return core with
        {
            ImageBuild = core.ImageBuild is { } build
                ? build with
                {
                    K3sBinary = build.K3sBinary is null ? null : Absolute(build.K3sBinary),
                    AirgapImagesTarball = build.AirgapImagesTarball is null ? null : Absolute(build.AirgapImagesTarball),
                }
                : null,
            AirgapImages = core.AirgapImages is null ? null : Absolute(core.AirgapImages),
            Mounts = [.. core.Mounts.Select(m => m with { HostPath = Absolute(m.HostPath) })],
            ArtifactsDirectory = Absolute(core.ArtifactsDirectory),
            KubeconfigDirectory = core.KubeconfigDirectory is null ? null : Absolute(core.KubeconfigDirectory),
        };
    }
}

public static class KubeDindClusterSettingsExtensions
{
    /// <summary>Changes any field of the core settings: <c>.Configure(s =&gt; s with { StopTimeout = TimeSpan.FromSeconds(5) })</c>.</summary>
    public static KubeDindClusterSettings Configure(this KubeDindClusterSettings settings, Func<ClusterSettings, ClusterSettings> change) =>
        Set(settings, change);

    public static KubeDindClusterSettings WithName(this KubeDindClusterSettings settings, string name) => Set(settings, s => s with { Name = name });

    public static KubeDindClusterSettings WithImage(this KubeDindClusterSettings settings, string image) => Set(settings, s => s with { Image = image });

    /// <summary>Builds the image with this k3s binary; null or "" leaves the setting as it is, so an optional argument can be passed straight on.</summary>
    public static KubeDindClusterSettings WithK3sBinary(this KubeDindClusterSettings settings, FilePath? k3sBinary) =>
        k3sBinary is null || string.IsNullOrWhiteSpace(k3sBinary.FullPath) ? settings : ImageBuild(settings, b => b with { K3sBinary = k3sBinary.FullPath });

    /// <summary>
    /// Runs this k3s release (<c>"v1.31.4+k3s1"</c>): downloaded for the engine's architecture, checked against the
    /// release's checksum file and cached on the host; null or "" leaves the setting as it is, so an optional argument
    /// can be passed straight on.
    /// </summary>
    public static KubeDindClusterSettings WithK3sVersion(this KubeDindClusterSettings settings, string? version) =>
        string.IsNullOrWhiteSpace(version) ? settings : Set(settings, s => s.WithK3sVersion(version.Trim()));

    /// <summary>Downloads the pinned k3s release for the image (needs internet, cached on the host); false changes nothing.</summary>
    public static KubeDindClusterSettings WithK3sDownload(this KubeDindClusterSettings settings, bool download = true) =>
        download ? ImageBuild(settings, b => b with { K3sDownload = true }) : settings;

    /// <summary>k3s's air-gap images tarball, imported by k3s at start (CoreDNS, local-path storage, metrics-server without a registry); no image rebuild.</summary>
    public static KubeDindClusterSettings WithAirgapImages(this KubeDindClusterSettings settings, FilePath tarball) =>
        Set(settings, s => s.WithAirgapImages(tarball.FullPath));

    /// <summary>Bakes an air-gap images tarball into the cluster image (rebuilt when it changes).</summary>
    public static KubeDindClusterSettings WithBakedAirgapImages(this KubeDindClusterSettings settings, FilePath tarball) =>
        ImageBuild(settings, b => b with { AirgapImagesTarball = tarball.FullPath });

    /// <summary>Pods pull <paramref name="registry"/>'s images through <paramref name="endpoints"/> first.</summary>
    public static KubeDindClusterSettings WithRegistryMirror(this KubeDindClusterSettings settings, string registry, params string[] endpoints) =>
        Set(settings, s => s.WithRegistryMirror(registry, endpoints));

    /// <summary>Runs k3s's Traefik ingress (and ServiceLB); container ports 80 and 443 are published on the host.</summary>
    public static KubeDindClusterSettings WithTraefik(this KubeDindClusterSettings settings, bool traefik = true) => Set(settings, s => s with { Traefik = traefik });

    /// <summary>Runs k3s's ServiceLB for LoadBalancer Services.</summary>
    public static KubeDindClusterSettings WithServiceLoadBalancer(this KubeDindClusterSettings settings, bool serviceLoadBalancer = true) => Set(settings, s => s with { ServiceLoadBalancer = serviceLoadBalancer });

    /// <summary>
    /// The tag for the kube-dind image built from the image settings; default a tag naming its inputs
    /// (kubedind/kube-dind:&lt;version&gt;-&lt;compose|k3s&gt;-&lt;input hash&gt;), so builds with different inputs never share one.
    /// </summary>
    public static KubeDindClusterSettings WithImageTag(this KubeDindClusterSettings settings, string tag) => ImageBuild(settings, b => b with { Tag = tag });

    /// <summary>Rebuilds the image even when one with the same inputs exists; false changes nothing.</summary>
    public static KubeDindClusterSettings WithForcedImageBuild(this KubeDindClusterSettings settings, bool force = true) =>
        force ? ImageBuild(settings, b => b with { Force = true }) : settings;

    /// <summary>The mirror from <c>KubeDindStartMirror</c>: the cluster pulls each covered registry's images through it and joins its network.</summary>
    public static KubeDindClusterSettings WithMirror(this KubeDindClusterSettings settings, KubeDindMirror mirror) => Set(settings, s => s.WithMirror(mirror));

    /// <summary>Adds a Docker Hub mirror, as the cluster container reaches it.</summary>
    public static KubeDindClusterSettings WithMirrorUrl(this KubeDindClusterSettings settings, string url) => Set(settings, s => s with { MirrorUrls = [.. s.MirrorUrls, url] });

    public static KubeDindClusterSettings WithNetwork(this KubeDindClusterSettings settings, string network) => Set(settings, s => s with { Network = network });

    public static KubeDindClusterSettings WithKubernetes(this KubeDindClusterSettings settings, bool kubernetes = true) => Set(settings, s => s with { Kubernetes = kubernetes });

    /// <summary>Compose mode: dockerd + registry + docker compose, no Kubernetes.</summary>
    public static KubeDindClusterSettings WithComposeMode(this KubeDindClusterSettings settings) => Set(settings, s => s with { Kubernetes = false });

    public static KubeDindClusterSettings WithReadinessTimeout(this KubeDindClusterSettings settings, TimeSpan timeout) => Set(settings, s => s with { ReadinessTimeout = timeout });

    public static KubeDindClusterSettings WithPrivilege(this KubeDindClusterSettings settings, PrivilegeMode privilege) => Set(settings, s => s with { Privilege = privilege });

    public static KubeDindClusterSettings WithK3sArgs(this KubeDindClusterSettings settings, params string[] args) => Set(settings, s => s with { K3sArgs = [.. s.K3sArgs, .. args] });

    /// <summary>
    /// Adds k3s arguments given as one command line (as passed by <c>--k3s-args="..."</c>): split on white space, double
    /// quotes group; an argument without dashes that is no flag's value gets them put back, as in every front end (<see cref="ArgumentLine.K3sArguments"/>).
    /// </summary>
    public static KubeDindClusterSettings WithK3sArgsLine(this KubeDindClusterSettings settings, string? commandLine) =>
        WithK3sArgs(settings, [.. ArgumentLine.K3sArguments([commandLine])]);

    public static KubeDindClusterSettings WithEnvironment(this KubeDindClusterSettings settings, string name, string value) =>
        Set(settings, s => s with { Environment = new Dictionary<string, string>(s.Environment, StringComparer.Ordinal) { [name] = value } });

    public static KubeDindClusterSettings WithLabel(this KubeDindClusterSettings settings, string name, string value) =>
        Set(settings, s => s with { Labels = new Dictionary<string, string>(s.Labels, StringComparer.Ordinal) { [name] = value } });

    public static KubeDindClusterSettings WithHostAddress(this KubeDindClusterSettings settings, string address) => Set(settings, s => s with { HostAddress = address });

    public static KubeDindClusterSettings WithRegistryHostPort(this KubeDindClusterSettings settings, int port) => Set(settings, s => s with { RegistryHostPort = port });

    public static KubeDindClusterSettings WithApiHostPort(this KubeDindClusterSettings settings, int port) => Set(settings, s => s with { ApiHostPort = port });

    /// <summary>Publishes <paramref name="containerPort"/> (a NodePort, say) on the host; 0 = any free host port.</summary>
    public static KubeDindClusterSettings WithPublishedPort(this KubeDindClusterSettings settings, int containerPort, int hostPort = 0, string protocol = "tcp") =>
        Set(settings, s => s with { Ports = [.. s.Ports, new PortMapping(containerPort, hostPort, protocol)] });

    public static KubeDindClusterSettings WithMount(this KubeDindClusterSettings settings, DirectoryPath hostPath, string containerPath, bool readOnly = false) =>
        Set(settings, s => s with { Mounts = [.. s.Mounts, new BindMount(hostPath.FullPath, containerPath, readOnly)] });

    /// <summary>Diagnostics bundles (and by default the kubeconfig) go under &lt;this&gt;/&lt;cluster name&gt;/; default artifacts/kubedind.</summary>
    public static KubeDindClusterSettings WithArtifactsDirectory(this KubeDindClusterSettings settings, DirectoryPath directory) => Set(settings, s => s with { ArtifactsDirectory = directory.FullPath });

    public static KubeDindClusterSettings WithKubeconfigDirectory(this KubeDindClusterSettings settings, DirectoryPath directory) => Set(settings, s => s with { KubeconfigDirectory = directory.FullPath });

    public static KubeDindClusterSettings WithStopTimeout(this KubeDindClusterSettings settings, TimeSpan timeout) => Set(settings, s => s with { StopTimeout = timeout });

    public static KubeDindClusterSettings WithKeepOnFailure(this KubeDindClusterSettings settings, bool keep = true) => Set(settings, s => s with { KeepOnFailure = keep });

    public static KubeDindClusterSettings WithSweepFirst(this KubeDindClusterSettings settings, bool sweep = true) => Set(settings, s => s with { SweepFirst = sweep });

    /// <summary>Runs <paramref name="agents"/> more Kubernetes nodes beside the server (a multi-node cluster; 0 = one node).</summary>
    public static KubeDindClusterSettings WithAgents(this KubeDindClusterSettings settings, int agents) => Set(settings, s => s.WithAgents(agents));

    /// <summary>
    /// Pushes these host images into the cluster's registry while it starts (they must be on the engine: build them
    /// first), so the pushes take place during the wait for Kubernetes: <c>.WithImagesToPush(await KubeDindBuildImage(...))</c>.
    /// Deploy and RunJob then use them as they use pushed images.
    /// </summary>
    public static KubeDindClusterSettings WithImagesToPush(this KubeDindClusterSettings settings, params string[] images) => Set(settings, s => s.WithImagesToPush(images));

    /// <summary>Turns warm starts (from a saved cluster state) on (the default) or off: <c>.WithWarmStart(false)</c>.</summary>
    public static KubeDindClusterSettings WithWarmStart(this KubeDindClusterSettings settings, bool warmStart = true) => Set(settings, s => s with { WarmStart = warmStart });

    /// <summary>
    /// Turns the engine's layer store (layers a cluster on this engine already received are not sent again) on (the default)
    /// or off, and sets how much it keeps: <c>.WithLayerStore(limitBytes: 20_000_000_000)</c>, <c>.WithLayerStore(false)</c>.
    /// </summary>
    public static KubeDindClusterSettings WithLayerStore(this KubeDindClusterSettings settings, bool enabled = true, long? limitBytes = null) =>
        Set(settings, s => s with { LayerStore = s.LayerStore with { Enabled = enabled, LimitBytes = limitBytes ?? s.LayerStore.LimitBytes } });

    private static KubeDindClusterSettings ImageBuild(KubeDindClusterSettings settings, Func<ClusterImageSettings, ClusterImageSettings> change) =>
        Set(settings, s => s with { ImageBuild = change(s.ImageBuild ?? new ClusterImageSettings()) });

    private static KubeDindClusterSettings Set(KubeDindClusterSettings settings, Func<ClusterSettings, ClusterSettings> change)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Core = change(settings.Core);
        return settings;
    }
}
