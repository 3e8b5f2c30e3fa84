using Cake.Core;
using Cake.Core.Annotations;
using Cake.Core.Diagnostics;
using Cake.Core.IO;
using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Mirror;
using KubeDind.Run;

namespace Cake.KubeDind;

/// <summary>
/// Throwaway Kubernetes-in-Docker for system tests: a registry mirror kept between builds, a kube-dind
/// cluster per run, images pushed into it, manifests deployed and checked, and guaranteed teardown.
/// Each alias is a thin call into the KubeDind core; its failures surface as <see cref="CakeException"/> with the
/// core's one-line message (inner: the core's exception), the supporting lines written to the log first.
/// <code>
/// #addin nuget:?package=Cake.KubeDind&amp;version=0.1.0
/// KubeDindCluster cluster = null;
/// Task("SystemTest").Does(async () =>
/// {
///     var mirror = await KubeDindStartMirror();
///     cluster = await KubeDindStartCluster(new KubeDindClusterSettings().WithMirror(mirror).WithPublishedPort(30080));
///     await KubeDindPushImage(cluster, "my-app:dev");
///     await KubeDindDeploy(cluster, new KubeDindDeploySettings().WithManifests("deploy"));
/// });
/// Teardown(ctx => { if (cluster != null) KubeDindTeardown(cluster).GetAwaiter().GetResult(); });
/// </code>
/// </summary>
[CakeAliasCategory("KubeDind")]
[CakeNamespaceImport("Cake.KubeDind")]
[CakeNamespaceImport("KubeDind")]
[CakeNamespaceImport("KubeDind.Cluster")]
[CakeNamespaceImport("KubeDind.Deploy")]
[CakeNamespaceImport("KubeDind.Diagnostics")]
[CakeNamespaceImport("KubeDind.Existing")]
[CakeNamespaceImport("KubeDind.Images")]
[CakeNamespaceImport("KubeDind.Mirror")]
[CakeNamespaceImport("KubeDind.Run")]
// The returned cluster's Kubernetes client is KubernetesClient's IKubernetes, whose API calls (CoreV1.ListNamespacedPodAsync, ...)
// are extension methods in k8s and whose objects are in k8s.Models: a script uses them without a using of its own.
[CakeNamespaceImport("k8s")]
[CakeNamespaceImport("k8s.Models")]
public static class KubeDindAliases
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ICakeContext, IKubeDindCore> CoreOverrides = new();

    /// <summary>
    /// Starts (or reuses) the registry mirrors on the host, one per upstream registry (docker.io, ghcr.io, quay.io,
    /// registry.k8s.io, gcr.io by default); they keep running between builds as pull-through caches, or serve their
    /// cache alone when their upstream does not answer.
    /// </summary>
    [CakeMethodAlias]
    public static Task<KubeDindMirror> KubeDindStartMirror(this ICakeContext context) => KubeDindStartMirror(context, new KubeDindMirrorSettings());

    [CakeMethodAlias]
    public static Task<KubeDindMirror> KubeDindStartMirror(this ICakeContext context, KubeDindMirrorSettings settings) =>
        RunAsync(context, (core, ct) => core.StartMirrorAsync(context, Required(settings, nameof(settings)).ToCore(), ct));

    /// <summary>Starts a kube-dind cluster and waits until every readiness gate passes (Kubernetes API, node, registry ...).</summary>
    [CakeMethodAlias]
    public static Task<KubeDindCluster> KubeDindStartCluster(this ICakeContext context) => KubeDindStartCluster(context, new KubeDindClusterSettings());

    [CakeMethodAlias]
    public static Task<KubeDindCluster> KubeDindStartCluster(this ICakeContext context, KubeDindClusterSettings settings) =>
        RunAsync(context, (core, ct) => core.StartClusterAsync(context, Required(settings, nameof(settings)).ToCore(WorkingDirectory(context)), ct));

    /// <summary>
    /// Builds an image on the host's engine from a directory (no docker CLI), with BASE_IMAGE set to KubeDind's
    /// Debian base so <c>FROM ${BASE_IMAGE}</c> needs no registry. Returns the tag.
    /// </summary>
    [CakeMethodAlias]
    public static Task<string> KubeDindBuildImage(this ICakeContext context, DirectoryPath contextDirectory, string tag) =>
        KubeDindBuildImage(context, new KubeDindBuildImageSettings().WithContext(contextDirectory).WithTag(tag));

    [CakeMethodAlias]
    public static Task<string> KubeDindBuildImage(this ICakeContext context, KubeDindBuildImageSettings settings) =>
        RunAsync(context, (core, ct) => core.BuildImageAsync(context, Required(settings, nameof(settings)).ToCore(WorkingDirectory(context)), ct));

    /// <summary>Pushes a host image into the cluster's registry; returns the reference pods use (localhost:5000/name:tag).</summary>
    [CakeMethodAlias]
    public static Task<string> KubeDindPushImage(this ICakeContext context, KubeDindCluster cluster, string image) =>
        KubeDindPushImage(context, cluster, image, new KubeDindPushSettings());

    [CakeMethodAlias]
    public static Task<string> KubeDindPushImage(this ICakeContext context, KubeDindCluster cluster, string image, KubeDindPushSettings settings) =>
        RunAsync(context, (core, ct) => core.PushImageAsync(context, RequiredCluster(cluster), RequiredImage(image), Required(settings, nameof(settings)).Name, ct));

    /// <summary>Loads a host image into the cluster's dockerd without a registry; returns the reference to use in the cluster.</summary>
    [CakeMethodAlias]
    public static Task<string> KubeDindLoadImage(this ICakeContext context, KubeDindCluster cluster, string image) =>
        RunAsync(context, (core, ct) => core.LoadImageAsync(context, RequiredCluster(cluster), RequiredImage(image), ct));

    /// <summary>
    /// Applies the manifests (images pushed in this run rewritten) and waits for every workload to roll out.
    /// On failure the error names the cause and the diagnostics bundle (<c>ex.GetKubeDindDiagnosticsDirectory()</c>).
    /// </summary>
    [CakeMethodAlias]
    public static Task<DeployResult> KubeDindDeploy(this ICakeContext context, KubeDindCluster cluster, KubeDindDeploySettings settings) =>
        RunAsync(context, (core, ct) => core.DeployAsync(context, RequiredCluster(cluster), Required(settings, nameof(settings)).ToCore(WorkingDirectory(context)), ct));

    /// <summary>Writes a diagnostics bundle for the whole cluster now (events, pods, logs) under the cluster's ArtifactsDirectory, e.g. when a system test fails.</summary>
    [CakeMethodAlias]
    public static async Task<DiagnosticsBundle> KubeDindCollectDiagnostics(this ICakeContext context, KubeDindCluster cluster) =>
        PrintReport(context, await RunAsync(context, (core, ct) => core.CollectDiagnosticsAsync(context, RequiredCluster(cluster), ct)).ConfigureAwait(false));

    /// <summary>Says where the bundle's page is, the file a CI user opens from the job's artifacts.</summary>
    internal static DiagnosticsBundle PrintReport(ICakeContext context, DiagnosticsBundle bundle)
    {
        context.Log.Information("{0}", $"KubeDind report: {bundle.ReportPath ?? $"not written (the bundle's files are in {bundle.Directory})"}");
        return bundle;
    }

    /// <summary>
    /// A host URL for a Service port (number or name): the published host port of its NodePort when the cluster
    /// publishes it, else a port-forward through the API. Dispose the endpoint to stop a port-forward.
    /// </summary>
    [CakeMethodAlias]
    public static Task<ServiceEndpoint> KubeDindOpenService(this ICakeContext context, KubeDindCluster cluster, string service, string port) =>
        KubeDindOpenService(context, cluster, service, port, new KubeDindServiceSettings());

    [CakeMethodAlias]
    public static Task<ServiceEndpoint> KubeDindOpenService(this ICakeContext context, KubeDindCluster cluster, string service, string port, KubeDindServiceSettings settings) =>
        RunAsync(context, (core, ct) => core.OpenServiceAsync(context, RequiredCluster(cluster), service, port, Required(settings, nameof(settings)), ct));

    /// <summary>
    /// The logs of a Pod, or of every pod of a Job, Deployment, StatefulSet or DaemonSet (all containers, previous
    /// instances too); <c>.Text</c> has them all, each under a header.
    /// </summary>
    [CakeMethodAlias]
    public static Task<WorkloadLogs> KubeDindReadLogs(this ICakeContext context, KubeDindCluster cluster, string kind, string name) =>
        KubeDindReadLogs(context, cluster, kind, name, new KubeDindLogsSettings());

    [CakeMethodAlias]
    public static Task<WorkloadLogs> KubeDindReadLogs(this ICakeContext context, KubeDindCluster cluster, string kind, string name, KubeDindLogsSettings settings) =>
        RunAsync(context, (core, ct) => core.ReadLogsAsync(context, RequiredCluster(cluster), kind, name, Required(settings, nameof(settings)), ct));

    /// <summary>
    /// Runs a Job to completion — a manifest, or an image and command — and returns its exit code and logs
    /// (<c>.ExitCode</c>, <c>.Output</c>); a Job that cannot start (missing image, missing ConfigMap) fails naming the cause.
    /// </summary>
    [CakeMethodAlias]
    public static Task<JobRunResult> KubeDindRunJob(this ICakeContext context, KubeDindCluster cluster, KubeDindJobSettings settings) =>
        RunAsync(context, (core, ct) => core.RunJobAsync(context, RequiredCluster(cluster), Required(settings, nameof(settings)).ToCore(WorkingDirectory(context)), ct));

    /// <summary>Removes the cluster's container, volumes and kubeconfig; safe to call twice. The mirror stays unless asked.</summary>
    [CakeMethodAlias]
    public static Task KubeDindTeardown(this ICakeContext context, KubeDindCluster cluster) =>
        KubeDindTeardown(context, cluster, new KubeDindTeardownSettings());

    [CakeMethodAlias]
    public static Task KubeDindTeardown(this ICakeContext context, KubeDindCluster cluster, KubeDindTeardownSettings settings) =>
        RunAsync(context, async (core, ct) =>
        {
            await core.TeardownAsync(context, RequiredCluster(cluster), Required(settings, nameof(settings)).ToCore(), ct).ConfigureAwait(false);
            return true;
        },
        interruptible: false);

    /// <summary>
    /// Where this build's KubeDind steps spent their time, one line per phase (mirror, start, build, push, deploy, the
    /// tests between deploy and teardown, teardown) with seconds and share; print it at the end of the script's Teardown:
    /// <c>Information(KubeDindTimeline().Render());</c>. Empty when no step ran.
    /// </summary>
    [CakeMethodAlias]
    public static RunTimeline KubeDindTimeline(this ICakeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return (CoreOverrides.TryGetValue(context, out var overridden) ? overridden : KubeDindCore.Instance).Timeline(context);
    }

    /// <summary>Removes KubeDind clusters (and their volumes) left behind by runs that died; never the mirror or its cache.</summary>
    [CakeMethodAlias]
    public static Task<SweepResult> KubeDindSweep(this ICakeContext context) => KubeDindSweep(context, new KubeDindSweepSettings());

    [CakeMethodAlias]
    public static Task<SweepResult> KubeDindSweep(this ICakeContext context, KubeDindSweepSettings settings) =>
        RunAsync(context, (core, ct) => core.SweepAsync(context, Required(settings, nameof(settings)).ToCore(), ct), interruptible: false);

    /// <summary>Puts <paramref name="core"/> behind every alias called with <paramref name="context"/> (tests).</summary>
    internal static void UseCore(ICakeContext context, IKubeDindCore core) => CoreOverrides.AddOrUpdate(context, core);

    internal static DirectoryPath WorkingDirectory(ICakeContext context) => context.Environment.WorkingDirectory;

    /// <summary>
    /// Runs one step: the core's failures become Cake errors with the core's one line, the details logged first.
    /// Cake gives aliases no token, so Ctrl+C or SIGTERM cancels the step through <see cref="ProcessInterrupt"/>
    /// (the step removes what it created); cleanup steps pass <paramref name="interruptible"/> false so the
    /// script's Teardown still runs to the end after the interrupt.
    /// </summary>
    internal static async Task<T> RunAsync<T>(ICakeContext context, Func<IKubeDindCore, CancellationToken, Task<T>> step, bool interruptible = true)
    {
        ArgumentNullException.ThrowIfNull(context);
        var core = CoreOverrides.TryGetValue(context, out var overridden) ? overridden : KubeDindCore.Instance;
        var token = interruptible ? ProcessInterrupt.Listen() : CancellationToken.None;
        try
        {
            return await step(core, token).ConfigureAwait(false);
        }
        catch (KubeDindException ex)
        {
            throw Fail(context, ex);
        }
        catch (OperationCanceledException ex) when (token.IsCancellationRequested)
        {
            throw new CakeException($"KubeDind: {ProcessInterrupt.Received ?? "interrupted"}: {ex.Message}", ex);
        }
    }

    private static CakeException Fail(ICakeContext context, KubeDindException ex)
    {
        if (!string.IsNullOrWhiteSpace(ex.Details))
        {
            foreach (var line in ex.Details.Split('\n'))
            {
                context.Log.Write(Verbosity.Quiet, LogLevel.Error, "{0}", "  " + line.TrimEnd('\r'));
            }
        }

        if ((ex as DeployFailedException)?.Diagnostics is { } bundle)
        {
            context.Log.Write(Verbosity.Quiet, LogLevel.Error, "{0}", $"KubeDind diagnostics bundle: {bundle.Directory}");
            if (bundle.ReportPath is { } report)
            {
                context.Log.Write(Verbosity.Quiet, LogLevel.Error, "{0}", $"KubeDind report: {report}");
            }
        }

        return ex.ToCakeException();
    }

    internal static T Required<T>(T? value, string name)
        where T : class =>
        value ?? throw new KubeDindException($"KubeDind: {name} is null; pass a settings object (new {typeof(T).Name}()).");

    private static KubeDindCluster RequiredCluster(KubeDindCluster? cluster) =>
        cluster ?? throw new KubeDindException("KubeDind: cluster is null; pass the cluster KubeDindStartCluster returned (did it fail earlier?).");

    internal static string RequiredImage(string? image) =>
        string.IsNullOrWhiteSpace(image) ? throw new KubeDindException("KubeDind: image is empty; pass the name of an image on the host's engine, e.g. \"my-app:dev\".") : image;
}
