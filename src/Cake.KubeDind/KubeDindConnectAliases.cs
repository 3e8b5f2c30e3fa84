using Cake.Core;
using Cake.Core.Annotations;
using Cake.Core.IO;
using KubeDind;
using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Existing;

namespace Cake.KubeDind;

/// <summary>
/// The same Deploy, rollout wait, diagnostics and service access against a cluster that already exists (a staging or
/// shared test cluster), opened from a kubeconfig and context. <c>KubeDindTeardown</c> of such a cluster deletes only
/// what the run created (its throwaway namespace); the cluster itself is never touched.
/// <code>
/// var staging = await KubeDindConnect(new KubeDindConnectSettings()
///     .WithKubeconfig("staging.kubeconfig").WithContext("staging")
///     .WithThrowawayNamespace()
///     .WithRegistry("registry.example.com/team"));
/// await KubeDindPushImage(staging, "my-app:dev");
/// await KubeDindDeploy(staging, new KubeDindDeploySettings().WithManifests("deploy"));
/// await KubeDindTeardown(staging);
/// </code>
/// </summary>
[CakeAliasCategory("KubeDind")]
[CakeNamespaceImport("KubeDind.Existing")]
public static class KubeDindConnectAliases
{
    /// <summary>Opens the cluster of <paramref name="context"/> in <paramref name="kubeconfig"/>; a one-line error when the context is missing or the server does not answer.</summary>
    [CakeMethodAlias]
    public static Task<ExistingCluster> KubeDindConnect(this ICakeContext context, FilePath kubeconfig, string kubeContext) =>
        KubeDindConnect(context, new KubeDindConnectSettings().WithKubeconfig(kubeconfig).WithContext(kubeContext));

    [CakeMethodAlias]
    public static Task<ExistingCluster> KubeDindConnect(this ICakeContext context, KubeDindConnectSettings settings) =>
        KubeDindAliases.RunAsync(context, (core, ct) => core.ConnectAsync(context, KubeDindAliases.Required(settings, nameof(settings)).ToCore(KubeDindAliases.WorkingDirectory(context)), ct));

    /// <summary>Pushes a host image to the registry named in the connect settings; returns the reference pods pull.</summary>
    [CakeMethodAlias]
    public static Task<string> KubeDindPushImage(this ICakeContext context, ExistingCluster cluster, string image) =>
        KubeDindPushImage(context, cluster, image, new KubeDindPushSettings());

    [CakeMethodAlias]
    public static Task<string> KubeDindPushImage(this ICakeContext context, ExistingCluster cluster, string image, KubeDindPushSettings settings) =>
        KubeDindAliases.RunAsync(context, (_, ct) => Required(cluster).PushImageAsync(KubeDindAliases.RequiredImage(image), KubeDindAliases.Required(settings, nameof(settings)).Name, ct));

    /// <summary>Applies the manifests into the cluster (namespace: the settings', else the connection's) and waits for the rollout.</summary>
    [CakeMethodAlias]
    public static Task<DeployResult> KubeDindDeploy(this ICakeContext context, ExistingCluster cluster, KubeDindDeploySettings settings) =>
        KubeDindAliases.RunAsync(context, (_, ct) => Required(cluster).DeployAsync(KubeDindAliases.Required(settings, nameof(settings)).ToCore(KubeDindAliases.WorkingDirectory(context)), ct));

    [CakeMethodAlias]
    public static async Task<DiagnosticsBundle> KubeDindCollectDiagnostics(this ICakeContext context, ExistingCluster cluster) =>
        KubeDindAliases.PrintReport(context, await KubeDindAliases.RunAsync(context, (_, ct) => Required(cluster).CollectDiagnosticsAsync(ct)).ConfigureAwait(false));

    /// <summary>A host URL for a Service port through a port-forward via the API; dispose it when done.</summary>
    [CakeMethodAlias]
    public static Task<ServiceEndpoint> KubeDindOpenService(this ICakeContext context, ExistingCluster cluster, string service, string port) =>
        KubeDindOpenService(context, cluster, service, port, new KubeDindServiceSettings());

    [CakeMethodAlias]
    public static Task<ServiceEndpoint> KubeDindOpenService(this ICakeContext context, ExistingCluster cluster, string service, string port, KubeDindServiceSettings settings) =>
        KubeDindAliases.RunAsync(context, (_, ct) =>
        {
            var chosen = KubeDindAliases.Required(settings, nameof(settings));
            return Required(cluster).OpenServiceAsync(service, port, chosen.Namespace, chosen.Scheme, ct);
        });

    /// <summary>Deletes the run's throwaway namespace (if it made one) and closes the connection; the cluster stays. Safe to call twice.</summary>
    [CakeMethodAlias]
    public static Task KubeDindTeardown(this ICakeContext context, ExistingCluster cluster) =>
        KubeDindAliases.RunAsync(context, async (_, ct) =>
        {
            await Required(cluster).TeardownAsync(ct).ConfigureAwait(false);
            return true;
        },
        interruptible: false);

    private static ExistingCluster Required(ExistingCluster? cluster) =>
        cluster ?? throw new KubeDindException("KubeDind: cluster is null; pass the cluster KubeDindConnect returned (did it fail earlier?).");
}
