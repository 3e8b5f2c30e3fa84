using KubeDind.Mirror;
using KubeDind.Networking;

namespace KubeDind.Cluster;

public enum PrivilegeMode
{
    /// <summary>Ask for --privileged; when the engine refuses, fall back and warn once.</summary>
    Auto,

    /// <summary>--privileged only; fails where the engine refuses it.</summary>
    Privileged,

    /// <summary>The unprivileged set from <see cref="ClusterContainerSpec"/> (capabilities, unconfined profiles, private cgroup namespace).</summary>
    Fallback,
}

/// <summary>A container port published on the host; <paramref name="HostPort"/> 0 = a free port the engine picks.</summary>
/// <param name="ContainerPort">The port inside the cluster container (a NodePort, or an externalIP service's port).</param>
/// <param name="HostPort">The port on <see cref="ClusterSettings.HostAddress"/>; 0 = any free port.</param>
/// <param name="Protocol">tcp or udp.</param>
public sealed record PortMapping(int ContainerPort, int HostPort = 0, string Protocol = "tcp");

/// <summary>A host directory or file mounted into the cluster container (manifests or fixtures a system test runs inside it).</summary>
public sealed record BindMount(string HostPath, string ContainerPath, bool ReadOnly = false);

/// <summary>One settings object for one kube-dind cluster container; every member has a working default.</summary>
public sealed record ClusterSettings
{
    /// <summary>Container name, also the cluster's name in logs and artifacts; null = <c>kubedind-&lt;run id&gt;</c> (with a suffix when taken in this run).</summary>
    public string? Name { get; init; }

    /// <summary>The kube-dind image; null = <c>kubedind/kube-dind:&lt;KubeDind version&gt;</c>, built from the package when missing.</summary>
    public string? Image { get; init; }

    /// <summary>
    /// How to build the default image when it is missing (a k3s binary for Kubernetes, say). When set, the image is
    /// checked against these inputs and rebuilt if they changed; when null, an existing image is used as it is.
    /// </summary>
    public ClusterImageSettings? ImageBuild { get; init; }

    /// <summary>
    /// The k3s release to run (v1.31.4+k3s1): downloaded for the engine's architecture, verified against the release's
    /// own checksum file and cached on the host (<see cref="K3sDownload"/>). Null = a given binary
    /// (<see cref="ClusterImageSettings.K3sBinary"/>, KUBEDIND_K3S_BINARY) or the image build's own choice.
    /// </summary>
    public string? K3sVersion { get; init; }

    /// <summary>Docker Hub mirrors the inner dockerd pulls through, as the cluster container reaches them (http://kubedind-mirror-docker-io:5000).</summary>
    public IReadOnlyList<string> MirrorUrls { get; init; } = [];

    /// <summary>
    /// Registry host (docker.io, quay.io, ...) → mirror endpoints, as the cluster container reaches them: the cluster's
    /// registries.yaml, so any image naming a covered host is pulled through its mirror.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> RegistryMirrors { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>
    /// k3s's air-gap images tarball (<c>k3s-airgap-images-amd64.tar</c>, <c>.tar.gz</c> or <c>.tar.zst</c> from the k3s
    /// release, or any image tarball): copied into the container before it starts and imported by k3s, so CoreDNS,
    /// local-path storage and metrics-server run without a registry. Null = none.
    /// </summary>
    public string? AirgapImages { get; init; }

    /// <summary>Run k3s's Traefik ingress (and ServiceLB, which it needs); container ports 80 and 443 are published on the host.</summary>
    public bool Traefik { get; init; }

    /// <summary>Run k3s's ServiceLB (klipper-lb): LoadBalancer Services get the cluster container's address.</summary>
    public bool ServiceLoadBalancer { get; init; }

    /// <summary>The Docker network to join; null = the shared <c>kubedind</c> network (created when missing).</summary>
    public string? Network { get; init; }

    /// <summary>
    /// More Kubernetes nodes: this many containers of the same image run <c>k3s agent</c> beside the server, on the same
    /// Docker network (<c>&lt;name&gt;-agent-1</c> ...). Each node gets its own /24 of the pod network, routed between the
    /// containers (host-gw); pushed images are pulled from the server's registry, loaded ones are imported on every node.
    /// 0 (the default) = a single-node cluster.
    /// </summary>
    public int Agents { get; init; }

    /// <summary>False = compose mode: dockerd + registry + docker compose, no Kubernetes.</summary>
    public bool Kubernetes { get; init; } = true;

    /// <summary>The whole readiness wait (every gate) must finish within this time.</summary>
    public TimeSpan ReadinessTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public PrivilegeMode Privilege { get; init; } = PrivilegeMode.Auto;

    /// <summary>
    /// Extra k3s server arguments (<c>--flag=value</c>, <c>--flag value</c> or <c>--flag</c>), written to k3s's
    /// <c>/etc/rancher/k3s/config.yaml</c>, so values with spaces stay whole.
    /// </summary>
    public IReadOnlyList<string> K3sArgs { get; init; } = [];

    /// <summary>Extra environment variables for the cluster container.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Extra labels for the container (KubeDind's own labels always win).</summary>
    public IReadOnlyDictionary<string, string> Labels { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// The address the engine publishes the cluster's ports on. Null (the default): 127.0.0.1 for a local engine; 0.0.0.0
    /// for a remote one (DOCKER_HOST=tcp://...) or with KUBEDIND_HOST_OVERRIDE, since the build reaches it from elsewhere.
    /// Anything but loopback is logged as a warning: whoever reaches that address can use the registry and the API.
    /// </summary>
    public string? HostAddress { get; init; }

    /// <summary>Host port for the in-cluster registry (:5000); 0 = a free port.</summary>
    public int RegistryHostPort { get; init; }

    /// <summary>Host port for the Kubernetes API (:6443); 0 = a free port.</summary>
    public int ApiHostPort { get; init; }

    /// <summary>More published ports, for system tests that reach NodePort or externalIP services from the host.</summary>
    public IReadOnlyList<PortMapping> Ports { get; init; } = [];

    public IReadOnlyList<BindMount> Mounts { get; init; } = [];

    /// <summary>Where diagnostics bundles (and by default the kubeconfig) go, in &lt;ArtifactsDirectory&gt;/&lt;name&gt;/.</summary>
    public string ArtifactsDirectory { get; init; } = Path.Combine("artifacts", "kubedind");

    /// <summary>Where the per-run kubeconfig is written; null = &lt;ArtifactsDirectory&gt;/&lt;name&gt;/ (a temp directory when that is not writable). Never ~/.kube.</summary>
    public string? KubeconfigDirectory { get; init; }

    /// <summary>
    /// Grace given to the container's processes at teardown before they are killed. Zero (the default) kills and
    /// removes the container at once, as kind's <c>docker rm -f -v</c> does: a throwaway cluster loses nothing without a
    /// graceful stop (its warm-start state is saved right after its start, diagnostics are read before teardown, and
    /// everything inside lives in the container and its volumes, which go with it). Give a grace when a process inside
    /// writes something outside the container that must be complete.
    /// </summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.Zero;

    /// <summary>Keep the container when the start fails (for debugging); by default a failed start removes it.</summary>
    public bool KeepOnFailure { get; init; }

    /// <summary>Run the sweep (remove clusters of dead runs) before starting.</summary>
    public bool SweepFirst { get; init; } = true;

    /// <summary>
    /// Start k3s from a saved copy of an already bootstrapped cluster (datastore, certificates, imported system images)
    /// when one was saved for the same image, k3s version, arguments and components; the first cold start with
    /// those inputs saves it (on by default: measured faster than a cold start in every pair run here). False = always
    /// bootstrap from scratch and save nothing.
    /// </summary>
    public bool WarmStart { get; init; } = true;

    /// <summary>
    /// Host images (as the engine names them, e.g. <c>my-app:dev</c>) pushed into the cluster's registry while it starts:
    /// from the moment its registry answers, so the pushes take place during the wait for Kubernetes instead of after it.
    /// Each is pushed as PushImage pushes it (its reference in <see cref="KubeDindCluster.Images"/>, which Deploy
    /// uses); every one must be on the engine before the start, and a failed push fails the start.
    /// </summary>
    public IReadOnlyList<string> ImagesToPush { get; init; } = [];

    /// <summary>The engine's layer store, so a layer a cluster on this engine already received is not sent again (on by default).</summary>
    public LayerStoreSettings LayerStore { get; init; } = new();

    /// <summary>Pulls each registry <paramref name="mirror"/> covers through its mirror, and joins the mirror's network.</summary>
    public ClusterSettings WithMirror(KubeDindMirror mirror)
    {
        ArgumentNullException.ThrowIfNull(mirror);
        return mirror.Registries.Aggregate(this, (settings, registry) => settings.WithMirror(registry));
    }

    /// <summary>Pulls images of <paramref name="mirror"/>'s registry through it, and joins its network.</summary>
    public ClusterSettings WithMirror(MirrorEndpoints mirror)
    {
        ArgumentNullException.ThrowIfNull(mirror);
        var mirrors = new Dictionary<string, IReadOnlyList<string>>(RegistryMirrors, StringComparer.OrdinalIgnoreCase);
        var endpoints = mirrors.TryGetValue(mirror.Registry, out var existing) ? existing : [];
        mirrors[mirror.Registry] = endpoints.Contains(mirror.NetworkUrl) ? endpoints : [.. endpoints, mirror.NetworkUrl];

        // The inner dockerd's registry-mirrors apply to Docker Hub alone.
        var dockerHub = mirror.Registry == "docker.io" && !MirrorUrls.Contains(mirror.NetworkUrl);
        return this with { RegistryMirrors = mirrors, MirrorUrls = dockerHub ? [.. MirrorUrls, mirror.NetworkUrl] : MirrorUrls, Network = mirror.Network };
    }

    /// <summary>The name a cluster gets when <see cref="Name"/> is null: <c>kubedind-&lt;run id&gt;</c> (with a suffix when taken in this run).</summary>
    public static string DefaultName(string runId) => $"kubedind-{runId}";

    /// <summary>Pods pull <paramref name="registry"/>'s images through <paramref name="endpoints"/> first.</summary>
    public ClusterSettings WithRegistryMirror(string registry, params string[] endpoints)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(registry);
        var mirrors = new Dictionary<string, IReadOnlyList<string>>(RegistryMirrors);
        mirrors[registry] = [.. mirrors.GetValueOrDefault(registry) ?? [], .. endpoints];
        return this with { RegistryMirrors = mirrors };
    }

    /// <summary>Pushes <paramref name="images"/> too while the cluster starts (<see cref="ImagesToPush"/>).</summary>
    public ClusterSettings WithImagesToPush(params string[] images) => this with { ImagesToPush = [.. ImagesToPush, .. images] };

    /// <summary>Runs k3s <paramref name="version"/> (<see cref="K3sVersion"/>).</summary>
    public ClusterSettings WithK3sVersion(string version) => this with { K3sVersion = version };

    /// <summary>Runs <paramref name="agents"/> more nodes (<see cref="Agents"/>).</summary>
    public ClusterSettings WithAgents(int agents) => this with { Agents = agents };

    /// <summary>k3s imports the images in <paramref name="tarball"/> (k3s's air-gap images) at start.</summary>
    public ClusterSettings WithAirgapImages(string tarball) => this with { AirgapImages = tarball };

    internal string NetworkOrDefault => Network ?? KubeDindNetwork.DefaultName;
}
