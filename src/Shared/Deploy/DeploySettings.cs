namespace KubeDind.Deploy;

/// <summary>What to deploy into a cluster and how long to wait for it.</summary>
public sealed record DeploySettings
{
    /// <summary>Manifest files, directories (every *.yaml/*.yml/*.json inside, recursively) or globs ("deploy/*.yaml", "k8s/**/*.yml").</summary>
    public IReadOnlyList<string> Manifests { get; init; } = [];

    /// <summary>Manifests given as YAML text (one or more documents each).</summary>
    public IReadOnlyList<string> InlineManifests { get; init; } = [];

    /// <summary>Where relative manifest paths are resolved; the current directory when null.</summary>
    public string? BaseDirectory { get; init; }

    /// <summary>Namespace for namespaced objects that name none; created when missing. "default" when null.</summary>
    public string? Namespace { get; init; }

    /// <summary>
    /// Image names used in the manifests → the references to use instead. A key with a tag or digest
    /// matches that exact image; a key without one matches the repository with any tag (the tag is
    /// kept unless the value names its own).
    /// </summary>
    public IReadOnlyDictionary<string, string> ImageRewrites { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Wait until every workload has rolled out (Deployments, StatefulSets, DaemonSets, Jobs, Pods), then until every
    /// Service applied routes to the ready pods it selects (its EndpointSlices, and kube-proxy on every node).
    /// </summary>
    public bool WaitForRollout { get; init; } = true;

    /// <summary>The whole deploy (apply and rollout) must finish within this time.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Stop waiting for a workload as soon as its pods show a failure that does not fix itself (ImagePullBackOff,
    /// ErrImagePull, InvalidImageName, CrashLoopBackOff, CreateContainerConfigError; a missing ConfigMap, Secret,
    /// PersistentVolumeClaim or StorageClass) instead of running into the timeout. The deploy still waits for the
    /// other workloads, so one run reports every failure.
    /// </summary>
    public bool FailFast { get; init; } = true;

    /// <summary>
    /// How long a missing ConfigMap, Secret, PersistentVolumeClaim or StorageClass must stay missing before
    /// <see cref="FailFast"/> counts it as final (something may still be creating it).
    /// </summary>
    public TimeSpan FailFastAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Field manager named in server-side apply; re-running with the same name updates the same fields.</summary>
    public string FieldManager { get; init; } = "kubedind";

    /// <summary>How often rollout status is polled.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Log lines kept per container in a diagnostics bundle.</summary>
    public int LogTailLines { get; init; } = 200;
}
