using KubeDind;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Mirror;
using KubeDind.Results;
using KubeDind.Run;
using Nuke.Common;
using Nuke.Common.IO;
using Nuke.Common.Tooling;
using Serilog;

namespace Nuke.KubeDind;

/// <summary>
/// A throwaway Kubernetes-in-Docker cluster for a Nuke build's system tests, as a build component:
/// <c>class Build : NukeBuild, IKubeDind</c>. Targets run in the order
/// StartMirror → StartCluster → PushImage → Deploy → SystemTest, and Teardown runs after them even
/// when one of them (or a target of yours between them) failed. The target names <c>StartMirror</c>,
/// <c>StartCluster</c>, <c>PushImage</c>, <c>Deploy</c>, <c>SystemTest</c> and <c>Teardown</c> become your build's.
/// <para>Declare what to ship by overriding <see cref="Images"/> and <see cref="Manifests"/>; change any
/// setting by overriding <see cref="StartMirrorSettings"/>, <see cref="StartClusterSettings"/> or
/// <c>DeploySettings</c> (<c>Configure&lt;T&gt;</c>, applied after the component's defaults).
/// Put your tests in <see cref="RunSystemTestsAsync"/> or in your own targets declared
/// <c>.DependsOn&lt;IKubeDind&gt;(x =&gt; x.Deploy).DependentFor&lt;IKubeDind&gt;(x =&gt; x.SystemTest)</c>.</para>
/// <para>Parameters carry the prefix <c>Kubedind</c> (as Nuke's own components do), so they never collide with the
/// build's: <c>--kubedind-k3s-binary</c> or <c>KUBEDIND_K3S_BINARY</c>, <c>--kubedind-k3s-version</c>, <c>--kubedind-k3s-args</c>,
/// <c>--kubedind-cluster-name</c>, <c>--kubedind-keep-cluster</c>, <c>--kubedind-no-mirror</c>.</para>
/// </summary>
[ParameterPrefix(Prefix)]
public interface IKubeDind : INukeBuild
{
    /// <summary>
    /// The prefix of every parameter of this component. Spelt with one hump because Nuke dashes at each capital:
    /// "KubeDind" would list the parameters as <c>--kube-dind-...</c>, not <c>--kubedind-...</c> like <c>KUBEDIND_...</c>.
    /// </summary>
    public const string Prefix = "Kubedind";

    // ---- parameters (--kubedind-..., or KUBEDIND_... in the environment) -----------------------------
    // The members carry the prefix too: a public member of the build with the same name and type (say its own
    // `ClusterName` parameter) would otherwise implement these silently and feed its value to KubeDind.
    // Name = the unprefixed name, so [ParameterPrefix] makes the parameter KubedindClusterName, not KubedindKubeDind....

    /// <summary><c>--kubedind-k3s-binary</c> / <c>KUBEDIND_K3S_BINARY</c>: a k3s binary to bake into the cluster image.</summary>
    [Parameter("k3s binary to bake into the cluster image (or KUBEDIND_K3S_BINARY)", Name = "K3sBinary")]
    AbsolutePath? KubeDindK3sBinary => TryGetValue(() => KubeDindK3sBinary);

    /// <summary>
    /// <c>--kubedind-k3s-version</c> / <c>KUBEDIND_K3S_VERSION</c>: the k3s release to run (v1.31.4+k3s1), downloaded,
    /// verified and cached on the host; when set, it is used instead of <see cref="KubeDindK3sBinary"/>.
    /// </summary>
    [Parameter("k3s release to run, e.g. v1.31.4+k3s1: downloaded, checksum verified, cached (or KUBEDIND_K3S_VERSION)", Name = "K3sVersion")]
    string? KubeDindK3sVersion => TryGetValue(() => KubeDindK3sVersion);

    /// <summary><c>--kubedind-k3s-args</c>: extra k3s server arguments, whitespace-separated within each value.</summary>
    [Parameter("Extra k3s server arguments, written without leading dashes: --kubedind-k3s-args disable=traefik kubelet-arg=v=2", Name = "K3sArgs")]
    string[] KubeDindK3sArgs => TryGetValue(() => KubeDindK3sArgs) ?? [];

    /// <summary><c>--kubedind-cluster-name</c>: the cluster container's name; default <c>kubedind-&lt;run id&gt;</c>.</summary>
    [Parameter("Name of the cluster container (default: kubedind-<run id>)", Name = "ClusterName")]
    string? KubeDindClusterName => TryGetValue(() => KubeDindClusterName);

    /// <summary><c>--kubedind-keep-cluster</c>: leave the cluster running after the build (Teardown then only reports it).</summary>
    [Parameter("Keep the cluster after the build; Teardown then prints how to reach it", Name = "KeepCluster")]
    bool KubeDindKeepCluster => TryGetValue<bool?>(() => KubeDindKeepCluster) ?? false;

    /// <summary><c>--kubedind-connect-kubeconfig</c>: deploy to the existing cluster of this kubeconfig instead of starting one.</summary>
    [Parameter("Deploy to an existing cluster: its kubeconfig file (StartCluster connects instead of starting one)", Name = "ConnectKubeconfig")]
    AbsolutePath? KubeDindConnectKubeconfig => TryGetValue(() => KubeDindConnectKubeconfig);

    /// <summary><c>--kubedind-connect-context</c>: the context in <see cref="KubeDindConnectKubeconfig"/>; default its current-context.</summary>
    [Parameter("The context in --kubedind-connect-kubeconfig (default: its current-context)", Name = "ConnectContext")]
    string? KubeDindConnectContext => TryGetValue(() => KubeDindConnectContext);

    /// <summary><c>--kubedind-no-mirror</c>: start no registry mirror; the cluster pulls directly.</summary>
    [Parameter("Start no registry mirror; the cluster pulls directly", Name = "NoMirror")]
    bool KubeDindNoMirror => TryGetValue<bool?>(() => KubeDindNoMirror) ?? false;

    /// <summary><c>--kubedind-no-warm-start</c>: always bootstrap the cluster instead of starting from a saved state.</summary>
    [Parameter("Always bootstrap the cluster from scratch instead of starting from a saved cluster state", Name = "NoWarmStart")]
    bool KubeDindNoWarmStart => TryGetValue<bool?>(() => KubeDindNoWarmStart) ?? false;

    [Parameter("Send every layer to each new cluster instead of taking those this engine already sent from its layer store", Name = "NoLayerStore")]
    bool KubeDindNoLayerStore => TryGetValue<bool?>(() => KubeDindNoLayerStore) ?? false;

    /// <summary><c>--kubedind-agents</c>: more Kubernetes nodes (k3s agents) beside the server; 0 = a single node.</summary>
    [Parameter("More Kubernetes nodes (k3s agents, one container each) beside the server (default: 0, a single node)", Name = "Agents")]
    int? KubeDindAgents => TryGetValue<int?>(() => KubeDindAgents);

    // ---- what the build ships (override these) ----------------------------------------------------

    /// <summary>Images put into the cluster's registry (built first when they have a context): by StartCluster while the cluster boots, by PushImage into an existing cluster.</summary>
    IEnumerable<KubeDindImage> Images => [];

    /// <summary>Manifests Deploy applies: files, directories or globs (relative ones against the root directory).</summary>
    IEnumerable<AbsolutePath> Manifests => [];

    /// <summary>Per-run kubeconfig and failure diagnostics go under <c>&lt;this&gt;/&lt;cluster name&gt;/</c>.</summary>
    AbsolutePath KubeDindArtifactsDirectory => RootDirectory / "artifacts" / "kubedind";

    /// <summary>The system tests, run by the SystemTest target once Deploy is done; nothing by default.</summary>
    Task RunSystemTestsAsync() => Task.CompletedTask;

    // ---- settings (Nuke style: sealed base with the component's defaults, overridable user part) --

    sealed Configure<MirrorSettings> StartMirrorSettingsBase => _ => _;

    Configure<MirrorSettings> StartMirrorSettings => _ => _;

    sealed Configure<ClusterSettings> StartClusterSettingsBase => _ =>
        KubeDindSettingsMapping.ClusterBase(_, KubeDindClusterName, KubeDindK3sArgs, KubeDindK3sBinary, KubeDindArtifactsDirectory, KubeDindK3sVersion) with
        {
            WarmStart = _.WarmStart && !KubeDindNoWarmStart,
            LayerStore = _.LayerStore with { Enabled = _.LayerStore.Enabled && !KubeDindNoLayerStore },
            Agents = KubeDindAgents ?? _.Agents,
        };

    Configure<ClusterSettings> StartClusterSettings => _ => _;

    sealed Configure<ExistingClusterSettings> ConnectSettingsBase => _ =>
        KubeDindSettingsMapping.ConnectBase(_, KubeDindConnectKubeconfig, KubeDindConnectContext, KubeDindArtifactsDirectory);

    /// <summary>Settings for an existing cluster (with <c>--kubedind-connect-kubeconfig</c>): throwaway namespace, registry to push to.</summary>
    Configure<ExistingClusterSettings> ConnectSettings => _ => _;

    sealed Configure<DeploySettings> DeploySettingsBase => _ =>
        KubeDindSettingsMapping.DeploymentBase(_, Manifests.Select(m => (string)m), RootDirectory);

    Configure<DeploySettings> DeploySettings => _ => _;

    // ---- what later targets use ---------------------------------------------------------------------

    /// <summary>The running cluster's endpoints; a one-line error when StartCluster has not run.</summary>
    KubeDindEndpoints ClusterEndpoints => KubeDindRun.RequireCluster("IKubeDind.ClusterEndpoints");

    /// <summary>The core's cluster object (exec, Kubernetes client, services, published ports); a one-line error when none runs.</summary>
    KubeDindCluster RunningCluster => KubeDindRun.Plan.CoreCluster
        ?? throw new KubeDindException("IKubeDind.RunningCluster needs a running cluster, but StartCluster has not run in this build: make the target depend on IKubeDind.StartCluster.");

    /// <summary>This run's kubeconfig on the host (for kubectl, KubernetesClient, your tests).</summary>
    AbsolutePath KubeconfigPath => AbsolutePath.Create(KubeDindRun.RequireCluster("IKubeDind.KubeconfigPath").KubeconfigPath
        ?? throw new KubeDindException("IKubeDind.KubeconfigPath: the cluster runs in compose mode (ClusterSettings.Kubernetes = false) and has no kubeconfig."));

    /// <summary>The cluster's registry as the host reaches it (push here), e.g. <c>127.0.0.1:41235</c>.</summary>
    string RegistryHostEndpoint => KubeDindRun.RequireCluster("IKubeDind.RegistryHostEndpoint").RegistryHostEndpoint;

    /// <summary>The cluster's registry as pod specs name it, e.g. <c>localhost:5000</c>.</summary>
    string RegistryClusterEndpoint => KubeDindRun.RequireCluster("IKubeDind.RegistryClusterEndpoint").RegistryClusterEndpoint;

    /// <summary>The host-side mirrors (one per upstream registry), once StartMirror ran (null with <c>--kubedind-no-mirror</c>); <c>ReadUsageAsync</c> says what their caches did.</summary>
    KubeDindMirror? KubeDindMirror => KubeDindRun.Plan.Mirror;

    /// <summary>Local tag → the reference pods use, for each image pushed into the running cluster.</summary>
    IReadOnlyDictionary<string, string> PushedImages => KubeDindRun.Plan.PushedImages;

    /// <summary>
    /// The logs of a Pod, or of every pod of a Job, Deployment, StatefulSet or DaemonSet in the running cluster (all
    /// containers, previous instances too); <c>.Text</c> has them all.
    /// </summary>
    Task<WorkloadLogs> ReadLogsAsync(string kind, string name, string @namespace = "default", int? tailLines = null, CancellationToken cancellationToken = default) =>
        RunningCluster.ReadLogsAsync(kind, name, @namespace, tailLines, cancellationToken);

    /// <summary>
    /// Runs a Job to completion in the running cluster — a manifest, or an image and command — and returns its exit
    /// code and logs (migrations, smoke checks); a Job that cannot start throws naming the cause.
    /// </summary>
    Task<JobRunResult> RunJobAsync(JobRunSettings settings, CancellationToken cancellationToken = default) =>
        RunningCluster.RunJobAsync(settings, cancellationToken);

    // ---- targets --------------------------------------------------------------------------------------

    Target StartMirror => _ => _
        .Description("KubeDind: start (or reuse) the host's registry mirrors, cache-only where the upstream does not answer (--kubedind-no-mirror skips it)")
        .OnlyWhenDynamic(() => KubeDindConnectKubeconfig == null && !KubeDindNoMirror)
        .Executes(() => KubeDindRun.StepAsync(plan => plan.StartMirrorAsync(StartMirrorSettings(StartMirrorSettingsBase(new MirrorSettings())))));

    Target StartCluster => _ => _
        .Description("KubeDind: build the declared images, start a k3s cluster in Docker that pushes them while it boots, and wait until it is ready (with --kubedind-connect-kubeconfig: connect to that cluster)")
        .DependsOn(StartMirror)
        .Executes(() => KubeDindRun.StepAsync(async plan =>
        {
            if (KubeDindConnectKubeconfig is not null)
            {
                var existing = await plan.ConnectClusterAsync(KubeDindSettingsMapping.Connect(ConnectSettingsBase, ConnectSettings)).ConfigureAwait(false);
                Log.Information("KubeDind connected to existing cluster {Name} (kubeconfig {Kubeconfig}); Teardown removes only what this run created", existing.ClusterName, existing.KubeconfigPath);
                return;
            }

            // The declared images are built first and pushed by the start while it waits for Kubernetes.
            var cluster = await plan.StartClusterAsync(StartClusterSettings(StartClusterSettingsBase(new ClusterSettings())), Images).ConfigureAwait(false);
            Log.Information("KubeDind cluster {Name}: kubeconfig {Kubeconfig}, registry {Registry}", cluster.ClusterName, cluster.KubeconfigPath, cluster.RegistryHostEndpoint);
        }));

    Target PushImage => _ => _
        .Description("KubeDind: push the declared images into the cluster's registry (an existing cluster's; a started one pushed them already)")
        .DependsOn(StartCluster)
        .Executes(() => KubeDindRun.StepAsync(plan => plan.PushImagesAsync(Images)));

    Target Deploy => _ => _
        .Description("KubeDind: apply the declared manifests and wait until their workloads are ready")
        .DependsOn(PushImage)
        .Produces(KubeDindArtifactsDirectory / "*" / "diagnostics-*" / DiagnosticsReport.FileName, KubeDindArtifactsDirectory / "*" / JUnitResults.FileName)
        .Executes(() => KubeDindRun.StepAsync(plan => plan.DeployAsync(DeploySettings(DeploySettingsBase(new DeploySettings())))));

    Target SystemTest => _ => _
        .Description("KubeDind: run the system tests against the deployed cluster")
        .DependsOn(Deploy)
        .Executes(() => RunSystemTestsAsync());

    Target Teardown => _ => _
        .Description("KubeDind: collect diagnostics when the build failed, then remove the cluster (the mirror stays)")
        .TriggeredBy(StartCluster)
        .After(StartCluster, PushImage, Deploy, SystemTest)
        .AssuredAfterFailure()
        .Produces(KubeDindArtifactsDirectory / "**")
        .Executes(async () =>
        {
            if (!KubeDindRun.Plan.HasStarted)
            {
                return;
            }

            KubeDindRun.TeardownStarted();
            try
            {
                await KubeDindRun.Plan.FinishAsync(IsFailing, KubeDindKeepCluster).ConfigureAwait(false);
            }
            finally
            {
                await KubeDindRun.ResetAsync().ConfigureAwait(false);
                KubeDindRun.TeardownFinished();
            }
        });
}
