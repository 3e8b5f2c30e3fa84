using System.Diagnostics;
using System.Globalization;
using System.Net;
using Docker.DotNet;
using Docker.DotNet.Models;
using k8s;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Networking;
using KubeDind.Waiting;

namespace KubeDind.Cluster;

/// <summary>
/// Starts a kube-dind cluster: sweeps leftovers of dead runs, ensures the image, creates and starts the
/// container on the shared network (privileged, or the fallback where the engine refuses that), waits for
/// it gate by gate, and writes the per-run kubeconfig. A start that fails removes what it created.
/// </summary>
public sealed class StartCluster
{
    public const string Role = "cluster";
    public const int RegistryContainerPort = 5000;
    public const int ApiContainerPort = 6443;
    /// <summary>A k3s binary to build the image with when Kubernetes is asked for and the image has none (CI sets it).</summary>
    public const string K3sBinaryVariable = "KUBEDIND_K3S_BINARY";

    private const int LogTailLines = 40;

    private readonly KubeDindSession _session;

    public StartCluster(KubeDindSession session) => _session = session;

    private IDockerClient Docker => _session.Docker;

    private IKubeDindLog Log => _session.Log;

    public async Task<KubeDindCluster> RunAsync(ClusterSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var watch = Stopwatch.StartNew();
        if (settings.SweepFirst)
        {
            await new Sweep(_session).RunAsync(new SweepSettings(), cancellationToken).ConfigureAwait(false);
        }

        var name = await ChooseNameAsync(settings, cancellationToken).ConfigureAwait(false);
        CheckPorts(name, settings);
        var image = await EnsureImageAsync(name, settings, cancellationToken).ConfigureAwait(false);
        var imageReady = watch.Elapsed;
        await KubeDindNetwork.EnsureAsync(_session, settings.NetworkOrDefault, cancellationToken).ConfigureAwait(false);

        var (containerId, privilege) = await CreateAndStartAsync(name, image, settings, cancellationToken).ConfigureAwait(false);
        var containerStarted = watch.Elapsed;
        Log.Info($"cluster {name}: container started after {containerStarted.TotalSeconds:0.0}s ({privilege.ToString().ToLowerInvariant()}); waiting for readiness");
        try
        {
            return await WaitUntilReadyAsync(name, image, containerId, privilege, settings, watch, imageReady, containerStarted, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!settings.KeepOnFailure)
        {
            Log.Info($"cluster {name}: start failed; removing its container (set KeepOnFailure to keep it)");
            await Teardown.RemoveContainerAsync(_session, containerId, TimeSpan.FromSeconds(2), CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private async Task<KubeDindCluster> WaitUntilReadyAsync(
        string name, string image, string containerId, PrivilegeMode privilege, ClusterSettings settings, Stopwatch watch, TimeSpan imageReady, TimeSpan containerStarted, CancellationToken cancellationToken)
    {
        var inspect = await Docker.Containers.InspectContainerAsync(containerId, cancellationToken).ConfigureAwait(false);
        var ports = PublishedPorts(inspect);
        var registry = $"{settings.HostAddress}:{ports[RegistryContainerPort]}";
        var api = settings.Kubernetes ? $"https://{settings.HostAddress}:{ports[ApiContainerPort]}" : null;
        var kubeconfigPath = settings.Kubernetes ? ClusterKubeconfig.ChoosePath(settings.KubeconfigDirectory, settings.ArtifactsDirectory, name) : null;

        IKubernetes? client = null;
        async Task<IKubernetes?> ClientAsync(CancellationToken ct)
        {
            if (client is not null)
            {
                return client;
            }

            var text = await ClusterKubeconfig.ReadAsync(Docker, containerId, ct).ConfigureAwait(false);
            if (text is null)
            {
                return null;
            }

            await ClusterKubeconfig.WriteAsync(kubeconfigPath!, ClusterKubeconfig.Rewrite(text, api!), ct).ConfigureAwait(false);
            Log.Debug($"cluster {name}: kubeconfig written to {kubeconfigPath}");
            return client = KubeDindCluster.CreateClient(kubeconfigPath!);
        }

        using var fatal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var probe = new ClusterProbe(Docker, containerId, registry, api ?? string.Empty, ClientAsync, fatal);
        var gates = ClusterGates.For(probe, settings.Kubernetes);
        IReadOnlyList<(string Gate, TimeSpan Elapsed)> passed;
        try
        {
            passed = await new ReadinessWaiter(Log).WaitAsync(
                $"cluster {name}",
                gates,
                settings.ReadinessTimeout,
                ct => DiagnosticsAsync(containerId, ct),
                fatal.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (probe.Fatal is not null && !cancellationToken.IsCancellationRequested)
        {
            Teardown.DeleteKubeconfig(kubeconfigPath);
            throw new KubeDindException(
                $"cluster {name}: failed while starting: {probe.Fatal}; see the log lines below.",
                await DiagnosticsAsync(containerId, CancellationToken.None).ConfigureAwait(false));
        }
        catch (Exception) when (!settings.KeepOnFailure)
        {
            Teardown.DeleteKubeconfig(kubeconfigPath);
            throw;
        }
        finally
        {
            (client as IDisposable)?.Dispose();
        }

        var timings = new ClusterTimings(imageReady, containerStarted, passed.Select(g => (g.Gate, containerStarted + g.Elapsed)).ToList(), watch.Elapsed);
        var cluster = new KubeDindCluster(_session, settings)
        {
            Name = name,
            ContainerId = containerId,
            Image = image,
            HasKubernetes = settings.Kubernetes,
            Privilege = privilege,
            RegistryHostEndpoint = registry,
            ApiEndpoint = api,
            KubeconfigPath = kubeconfigPath,
            KubernetesVersion = probe.KubernetesVersion,
            Network = settings.NetworkOrDefault,
            PublishedPorts = settings.Ports.ToDictionary(p => p.ContainerPort, p => ports[p.ContainerPort]),
            Timings = timings,
        };
        Log.Info($"cluster {name}: ready in {watch.Elapsed.TotalSeconds:0.0}s: registry {registry} (in the cluster {cluster.RegistryClusterName})"
            + (api is null ? ", compose mode" : $", API {api} (Kubernetes {probe.KubernetesVersion}), kubeconfig {kubeconfigPath}"));
        return cluster;
    }

    private async Task<string?> DiagnosticsAsync(string containerId, CancellationToken cancellationToken)
    {
        var tail = await ContainerLogs.TailAsync(Docker, containerId, LogTailLines, cancellationToken).ConfigureAwait(false);
        return $"last {LogTailLines} lines of the cluster container's log:\n{tail}";
    }

    private async Task<string> ChooseNameAsync(ClusterSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Name is { } requested)
        {
            if (requested.Length == 0 || !requested.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || !char.IsAsciiLetterOrDigit(requested[0]))
            {
                throw new KubeDindException($"cluster name '{requested}' is not a valid container name; use letters, digits, '-', '_' and '.', starting with a letter or digit.");
            }

            await CheckNameFreeAsync(requested, cancellationToken).ConfigureAwait(false);
            return requested;
        }

        var baseName = $"kubedind-{_session.RunId}";
        for (var i = 1; ; i++)
        {
            var candidate = i == 1 ? baseName : $"{baseName}-{i}";
            if (await FindContainerAsync(candidate, cancellationToken).ConfigureAwait(false) is null)
            {
                return candidate;
            }
        }
    }

    private async Task CheckNameFreeAsync(string name, CancellationToken cancellationToken)
    {
        var existing = await FindContainerAsync(name, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            return;
        }

        if (!KubeDindLabels.IsOwned(existing.Labels))
        {
            throw new KubeDindException($"cluster name '{name}' is taken by a container KubeDind did not create ({existing.ID[..12]}); choose another Name.");
        }

        existing.Labels.TryGetValue(KubeDindLabels.RunId, out var runId);
        existing.Labels.TryGetValue(KubeDindLabels.OwnerPid, out var pid);
        if (existing.State == "running" || runId != _session.RunId)
        {
            throw new KubeDindException($"cluster name '{name}' is already used by a live cluster (run {runId}, pid {pid}, {existing.State}); choose another Name or tear that cluster down.");
        }

        // A leftover of this run's own failed start: replace it.
        Log.Info($"cluster {name}: removing a stopped container of this run left by an earlier start");
        await Teardown.RemoveContainerAsync(_session, existing.ID, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
    }

    private async Task<ContainerListResponse?> FindContainerAsync(string name, CancellationToken cancellationToken)
    {
        var containers = await Docker.Containers.ListContainersAsync(
            new ContainersListParameters { All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { ["name"] = new Dictionary<string, bool> { [$"^/{name}$"] = true } } },
            cancellationToken).ConfigureAwait(false);
        return containers.FirstOrDefault(c => c.Names.Contains("/" + name));
    }

    private static void CheckPorts(string name, ClusterSettings settings)
    {
        if (!IPAddress.TryParse(settings.HostAddress, out var address))
        {
            throw new KubeDindException($"cluster {name}: HostAddress '{settings.HostAddress}' is not an IP address; use 127.0.0.1 (the default).");
        }

        var requested = new List<(string What, int Port)> { ("registry", settings.RegistryHostPort) };
        if (settings.Kubernetes)
        {
            requested.Add(("Kubernetes API", settings.ApiHostPort));
        }

        requested.AddRange(settings.Ports.Select(p => ($"container port {p.ContainerPort}", p.HostPort)));
        foreach (var mapping in settings.Ports)
        {
            if (mapping.ContainerPort is <= 0 or > 65535 || mapping.ContainerPort is RegistryContainerPort or ApiContainerPort)
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

            if (HostPorts.IsTaken(address, port))
            {
                throw new KubeDindException($"cluster {name}: {what} host port {settings.HostAddress}:{port} is taken; choose another port, or 0 for a free one.");
            }
        }
    }

    private async Task<string> EnsureImageAsync(string name, ClusterSettings settings, CancellationToken cancellationToken)
    {
        var images = new ImageStore(Docker, Log);
        string tag;
        ImageInspectResponse? inspect;
        if (settings.Image is { } explicitImage && explicitImage != ClusterImage.DefaultTag)
        {
            tag = explicitImage;
            inspect = await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false);
            if (inspect is null && !await images.TryPullAsync(tag, cancellationToken).ConfigureAwait(false))
            {
                throw new KubeDindException($"cluster {name}: image '{tag}' is not on the engine and cannot be pulled; build or load it, or leave Image unset to use KubeDind's own image.");
            }
        }
        else
        {
            tag = ClusterImage.DefaultTag;
            var build = settings.ImageBuild;
            inspect = build is null ? await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false) : null;
            if (build is null && settings.Kubernetes && K3sVersionOf(inspect) is null or ClusterImage.NoKubernetes
                && Environment.GetEnvironmentVariable(K3sBinaryVariable) is { Length: > 0 } k3sBinary)
            {
                Log.Info($"cluster {name}: image {tag} {(inspect is null ? "is missing" : "has no k3s")}; building it with the k3s binary {k3sBinary} ({K3sBinaryVariable})");
                build = new ClusterImageSettings { K3sBinary = k3sBinary };
                inspect = null;
            }

            if (inspect is null)
            {
                if (build is null)
                {
                    Log.Info($"cluster {name}: image {tag} is missing; building it from the package");
                }

                try
                {
                    tag = (await ClusterImage.EnsureAsync(_session, build ?? new ClusterImageSettings(), cancellationToken).ConfigureAwait(false)).Tag;
                }
                catch (KubeDindException ex)
                {
                    throw new KubeDindException($"cluster {name}: image {tag} cannot be built: {ex.Message}", ex.Details, ex);
                }
            }
        }

        inspect ??= await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false);
        var k3s = K3sVersionOf(inspect);
        if (settings.Kubernetes && k3s == ClusterImage.NoKubernetes)
        {
            throw new KubeDindException($"cluster {name}: image {tag} has no k3s (compose mode only); set ClusterSettings.ImageBuild.K3sBinary or {K3sBinaryVariable} to a k3s binary, or Kubernetes = false.");
        }

        Log.Debug($"cluster {name}: image {tag} (k3s {k3s ?? "unknown"})");
        return tag;
    }

    private static string? K3sVersionOf(ImageInspectResponse? image) =>
        image?.Config?.Labels is { } labels && labels.TryGetValue(KubeDindLabels.K3sVersion, out var version) ? version : null;

    private async Task<(string ContainerId, PrivilegeMode Mode)> CreateAndStartAsync(string name, string image, ClusterSettings settings, CancellationToken cancellationToken)
    {
        var mode = settings.Privilege;
        if (mode == PrivilegeMode.Auto && _session.PrivilegedRefused)
        {
            Log.Debug($"cluster {name}: the engine refused --privileged earlier in this session; using the fallback");
            mode = PrivilegeMode.Fallback;
        }

        var first = mode == PrivilegeMode.Auto ? PrivilegeMode.Privileged : mode;
        var id = await CreateAsync(name, image, settings, first, cancellationToken).ConfigureAwait(false);
        try
        {
            await StartAsync(name, id, rethrowRefusal: mode == PrivilegeMode.Auto, cancellationToken).ConfigureAwait(false);
            return (id, first);
        }
        catch (DockerApiException ex) when (mode == PrivilegeMode.Auto && ContainerSecurity.IsPrivilegeRefusal(ex))
        {
            await Teardown.RemoveContainerAsync(_session, id, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            _session.PrivilegedRefused = true;
            Log.Warn($"cluster {name}: the engine refuses --privileged ({DockerEngine.FirstLine(ex)}); running with the unprivileged fallback instead (all capabilities the engine grants, unconfined seccomp/AppArmor, private cgroup namespace). Set Privilege = Fallback to skip this attempt.");
        }
        catch (Exception)
        {
            await Teardown.RemoveContainerAsync(_session, id, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            throw;
        }

        id = await CreateAsync(name, image, settings, PrivilegeMode.Fallback, cancellationToken).ConfigureAwait(false);
        try
        {
            await StartAsync(name, id, rethrowRefusal: false, cancellationToken).ConfigureAwait(false);
            return (id, PrivilegeMode.Fallback);
        }
        catch (Exception)
        {
            await Teardown.RemoveContainerAsync(_session, id, TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartAsync(string name, string id, bool rethrowRefusal, CancellationToken cancellationToken)
    {
        try
        {
            await Docker.Containers.StartContainerAsync(id, new ContainerStartParameters(), cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex) when (!rethrowRefusal || !ContainerSecurity.IsPrivilegeRefusal(ex))
        {
            var line = DockerEngine.FirstLine(ex);
            if (line.Contains("port is already allocated", StringComparison.OrdinalIgnoreCase) || line.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                throw new KubeDindException($"cluster {name}: a host port is taken ({line}); choose other ports in ClusterSettings, or 0 for free ones.", inner: ex);
            }

            if (ContainerSecurity.IsPrivilegeRefusal(ex))
            {
                throw new KubeDindException($"cluster {name}: the engine refuses --privileged ({line}); use Privilege = Auto or Fallback (without --privileged).", inner: ex);
            }

            throw new KubeDindException($"cluster {name}: the engine cannot start the container: {line}", inner: ex);
        }
    }

    private async Task<string> CreateAsync(string name, string image, ClusterSettings settings, PrivilegeMode mode, CancellationToken cancellationToken)
    {
        var labels = new Dictionary<string, string>(settings.Labels);
        foreach (var (key, value) in KubeDindLabels.ForResource(Role, _session.RunId))
        {
            labels[key] = value;
        }

        labels[KubeDindLabels.Cluster] = name;
        var volumeLabels = KubeDindLabels.ForResource(Role + "-volume", _session.RunId);
        volumeLabels[KubeDindLabels.Cluster] = name;

        var environment = new Dictionary<string, string>(settings.Environment)
        {
            ["KUBEDIND_KUBERNETES"] = settings.Kubernetes ? "true" : "false",
            ["KUBEDIND_REGISTRY_MIRRORS"] = string.Join(',', settings.MirrorUrls),
            ["KUBEDIND_K3S_ARGS"] = string.Join(' ', settings.K3sArgs),
        };

        var bindings = new Dictionary<string, IList<PortBinding>>();
        var exposed = new Dictionary<string, EmptyStruct>();
        void Publish(int containerPort, int hostPort, string protocol)
        {
            var key = $"{containerPort}/{protocol}";
            exposed[key] = default;
            bindings[key] = [new PortBinding { HostIP = settings.HostAddress, HostPort = hostPort == 0 ? string.Empty : hostPort.ToString(CultureInfo.InvariantCulture) }];
        }

        Publish(RegistryContainerPort, settings.RegistryHostPort, "tcp");
        if (settings.Kubernetes)
        {
            Publish(ApiContainerPort, settings.ApiHostPort, "tcp");
        }

        foreach (var port in settings.Ports)
        {
            Publish(port.ContainerPort, port.HostPort, port.Protocol);
        }

        var hostConfig = new HostConfig
        {
            PortBindings = bindings,
            Binds = settings.Mounts.Select(m => $"{Path.GetFullPath(m.HostPath)}:{m.ContainerPath}{(m.ReadOnly ? ":ro" : string.Empty)}").ToList(),
            NetworkMode = settings.NetworkOrDefault,
            RestartPolicy = new RestartPolicy { Name = RestartPolicyKind.No },
        };
        hostConfig = await ContainerSecurity.ApplyAsync(_session, hostConfig, mode, volumeLabels, cancellationToken).ConfigureAwait(false);

        try
        {
            var created = await Docker.Containers.CreateContainerAsync(
                new CreateContainerParameters
                {
                    Name = name,
                    Hostname = name.Length <= 63 ? name : name[..63],
                    Image = image,
                    Env = environment.Select(kv => $"{kv.Key}={kv.Value}").ToList(),
                    Labels = labels,
                    ExposedPorts = exposed,
                    HostConfig = hostConfig,
                    NetworkingConfig = new NetworkingConfig
                    {
                        EndpointsConfig = new Dictionary<string, EndpointSettings> { [settings.NetworkOrDefault] = new EndpointSettings { Aliases = [name] } },
                    },
                },
                cancellationToken).ConfigureAwait(false);
            Log.Debug($"cluster {name}: created container {created.ID[..12]} ({mode.ToString().ToLowerInvariant()})");
            return created.ID;
        }
        catch (DockerApiException ex) when (ex.StatusCode == HttpStatusCode.Conflict)
        {
            throw new KubeDindException($"cluster name '{name}' is already used by another container; choose another Name.", inner: ex);
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"cluster {name}: the engine cannot create the container: {DockerEngine.FirstLine(ex)}", inner: ex);
        }
    }

    private static Dictionary<int, int> PublishedPorts(ContainerInspectResponse inspect)
    {
        var result = new Dictionary<int, int>();
        foreach (var (key, bindings) in inspect.NetworkSettings?.Ports ?? new Dictionary<string, IList<PortBinding>>())
        {
            var binding = bindings?.FirstOrDefault(b => !string.IsNullOrEmpty(b.HostPort));
            if (binding is not null)
            {
                result[int.Parse(key.Split('/')[0], CultureInfo.InvariantCulture)] = int.Parse(binding.HostPort, CultureInfo.InvariantCulture);
            }
        }

        return result;
    }
}
