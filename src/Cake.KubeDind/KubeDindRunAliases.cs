using Cake.Core;
using Cake.Core.Annotations;
using KubeDind.Run;

namespace Cake.KubeDind;

/// <summary>
/// The whole run in two calls, the core's <see cref="KubeDindRunPlan"/> with the same defaults as the Nuke component and
/// the xunit fixture (mirror on, diagnostics on failure, keep with <c>KeepCluster</c> or <c>KUBEDIND_KEEP_CLUSTER=1</c>):
/// <code>
/// KubeDindRunPlan run = null;
/// Task("SystemTest").Does(async () =>
/// {
///     run = await KubeDindStartRun(new KubeDindRunSettings
///     {
///         Images = [new KubeDindImage("my-app:dev", "artifacts/publish")],
///         Deploy = new DeploySettings { Manifests = ["deploy"] },
///         KeepCluster = HasArgument("keep-cluster"),
///     }.WithK3sArgs([Argument("k3s-args", "")]));
///     await using var app = await KubeDindOpenService(run.CoreCluster, "my-app", "http");
/// });
/// Teardown(ctx => { if (run != null) KubeDindFinishRun(run, failed: !ctx.Successful).GetAwaiter().GetResult(); });
/// </code>
/// </summary>
[CakeAliasCategory("KubeDind")]
public static class KubeDindRunAliases
{
    /// <summary>
    /// Starts the mirror (unless <c>UseMirror = false</c>) and the cluster (or connects to <c>Connect</c>), builds and
    /// pushes the images and deploys; relative paths are resolved against Cake's working directory. When a step fails
    /// the run is finished at once (diagnostics, then teardown or keep) before the error.
    /// </summary>
    [CakeMethodAlias]
    public static Task<KubeDindRunPlan> KubeDindStartRun(this ICakeContext context, KubeDindRunSettings settings) =>
        KubeDindAliases.RunAsync(context, (core, ct) => KubeDindRunPlan.StartAsync(
            Absolute(KubeDindAliases.Required(settings, nameof(settings)), context),
            new CakeKubeDindLog(context.Log),
            (_, token) => core.RunStepsAsync(context, token),
            ct));

    /// <summary>Ends a run started with <c>KubeDindStartRun</c>: diagnostics when <paramref name="failed"/>, then teardown (or keep, as its settings say); the mirror stays.</summary>
    [CakeMethodAlias]
    public static Task<string?> KubeDindFinishRun(this ICakeContext context, KubeDindRunPlan plan, bool failed) =>
        KubeDindAliases.RunAsync(
            context,
            async (_, _) =>
            {
                await using (KubeDindAliases.Required(plan, nameof(plan)).ConfigureAwait(false))
                {
                    return await plan.FinishAsync(failed).ConfigureAwait(false);
                }
            },
            interruptible: false);

    /// <summary>Every path the run settings hold, made absolute against Cake's working directory as the other aliases do.</summary>
    internal static KubeDindRunSettings Absolute(KubeDindRunSettings settings, ICakeContext context)
    {
        var workingDirectory = KubeDindAliases.WorkingDirectory(context);
        return settings with
        {
            Cluster = new KubeDindClusterSettings { Core = settings.Cluster }.ToCore(workingDirectory),
            Connect = settings.Connect is { } connect ? new KubeDindConnectSettings { Core = connect }.ToCore(workingDirectory) : null,
            Images = [.. settings.Images.Select(i => i.IsBuilt ? new KubeDindBuildImageSettings { Core = i }.ToCore(workingDirectory) : i)],
            Deploy = settings.Deploy is { } deploy ? new KubeDindDeploySettings { Core = deploy }.ToCore(workingDirectory) : null,
        };
    }
}
