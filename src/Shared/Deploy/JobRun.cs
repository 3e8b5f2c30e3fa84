using System.Diagnostics;
using k8s;
using k8s.Models;
using KubeDind.Diagnostics;
using KubeDind.Logging;
using KubeDind.Waiting;

namespace KubeDind.Deploy;

/// <summary>
/// A Job to run to completion: either a Job manifest (<see cref="Manifest"/> or <see cref="InlineManifest"/>) or an
/// <see cref="Image"/> with a <see cref="Command"/> (run once: restartPolicy Never, no retries). Images pushed in this
/// run are rewritten as in a deploy.
/// </summary>
public sealed record JobRunSettings
{
    /// <summary>A file holding exactly one Job.</summary>
    public string? Manifest { get; init; }

    /// <summary>YAML text holding exactly one Job.</summary>
    public string? InlineManifest { get; init; }

    /// <summary>The image to run, with <see cref="Command"/>, when no manifest is given.</summary>
    public string? Image { get; init; }

    /// <summary>The command (entrypoint and arguments); the image's own when empty.</summary>
    public IReadOnlyList<string> Command { get; init; } = [];

    /// <summary>The Job's name for <see cref="Image"/> runs; "kubedind-job-&lt;random&gt;" when null.</summary>
    public string? Name { get; init; }

    /// <summary>The namespace for a Job that names none; created when missing.</summary>
    public string Namespace { get; init; } = "default";

    /// <summary>Image names → the references to use instead, as <see cref="DeploySettings.ImageRewrites"/>.</summary>
    public IReadOnlyDictionary<string, string> ImageRewrites { get; init; } = new Dictionary<string, string>();

    /// <summary>The run (start, completion, logs) must finish within this time.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>How a Job run ended: its exit code (of the last pod's first failing container, 0 when it succeeded) and its logs.</summary>
public sealed record JobRunResult(string Name, string Namespace, bool Succeeded, int ExitCode, WorkloadLogs Logs, TimeSpan Elapsed)
{
    /// <summary>All logs as text (see <see cref="WorkloadLogs.Text"/>).</summary>
    public string Output => Logs.Text;
}

/// <summary>
/// Runs a Job to completion — the usual shape of a system test inside the cluster (migrations, smoke checks):
/// deletes an earlier Job of the same name (a Job's pod template cannot be changed), applies it through the
/// deploy path (image rewrites, namespace), waits until it completes or fails, and returns its exit code and
/// logs. A Job that cannot start (its image is missing, a ConfigMap it needs does not exist) throws, naming the cause.
/// </summary>
internal static class JobRun
{
    public static async Task<JobRunResult> RunAsync(IKubernetes client, JobRunSettings settings, DeployContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(context);
        var watch = Stopwatch.StartNew();
        var job = JobManifest(settings);
        var name = job.Name;
        var ns = job.Namespace ??= settings.Namespace;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(settings.Timeout);

        await DeleteEarlierAsync(client, name, ns, settings.PollInterval, deadline.Token).ConfigureAwait(false);
        var deploy = new DeploySettings
        {
            InlineManifests = [job.ToYaml()],
            Namespace = ns,
            ImageRewrites = settings.ImageRewrites,
            WaitForRollout = false,
            Timeout = settings.Timeout,
        };
        await DeployStep.RunAsync(client, deploy, context, deadline.Token).ConfigureAwait(false);

        var check = new JobCheck();
        var permanent = new PermanentFailures(client);
        await using var changes = WorkloadChanges.Start(client, [(check.Kind, ns)], deadline.Token);
        var finished = await Poll.UntilAsync(
            $"Job {ns}/{name} to finish",
            async token =>
            {
                var live = await check.ReadAsync(client, name, ns, token).ConfigureAwait(false);
                if (live is null)
                {
                    return PollStep<LiveWorkload>.NotYet("the Job is gone (deleted by someone else?)");
                }

                if (live.Status.State != RolloutState.Progressing)
                {
                    return PollStep<LiveWorkload>.Finished(live, live.Status.Observation);
                }

                foreach (var pod in await RolloutWaiter.ListPodsAsync(client, ns, live.Selector, token).ConfigureAwait(false))
                {
                    if (await permanent.FindAsync(pod, token).ConfigureAwait(false) is { Lasting: false } failure && PodStates.HardFailure(pod)?.Reason != "CrashLoopBackOff")
                    {
                        var cause = FailureSummary.Describe(name, [pod], [], (_, _, _) => null, knownCause: failure.Cause);
                        throw new KubeDindException($"Job {ns}/{name} cannot run: {cause}");
                    }
                }

                return PollStep<LiveWorkload>.NotYet(live.Status.Observation);
            },
            settings.PollInterval,
            settings.Timeout - watch.Elapsed,
            cancellationToken,
            changes.PauseAsync).ConfigureAwait(false);
        var result = finished.ValueOrThrow($"Job {ns}/{name}", "it to complete or fail", "raise JobRunSettings.Timeout, or read its logs with the logs method");

        var pods = await RolloutWaiter.ListPodsAsync(client, ns, result.Selector, cancellationToken).ConfigureAwait(false);
        var logs = await PodLogs.ReadAsync(client, "Job", name, ns, cancellationToken: cancellationToken).ConfigureAwait(false);
        var succeeded = result.Status.State == RolloutState.Ready;
        var exitCode = succeeded ? 0 : ExitCodeOf(pods);
        context.Log.Info($"Job {ns}/{name} {(succeeded ? "succeeded" : $"failed with exit code {exitCode}")} after {watch.Elapsed.TotalSeconds:0.0}s");
        return new JobRunResult(name, ns, succeeded, exitCode, logs, watch.Elapsed);
    }

    /// <summary>The newest pod's first non-zero exit code; -1 when no container ran to an end (a deadline stopped the Job, say).</summary>
    private static int ExitCodeOf(IReadOnlyList<V1Pod> pods)
    {
        foreach (var pod in pods.OrderByDescending(p => p.Metadata?.CreationTimestamp))
        {
            var codes = PodStates.ContainerStatuses(pod).Select(s => s.State?.Terminated ?? s.LastState?.Terminated).OfType<V1ContainerStateTerminated>().Select(t => t.ExitCode).ToList();
            if (codes.FirstOrDefault(c => c != 0) is var failed && failed != 0)
            {
                return failed;
            }
        }

        return -1;
    }

    private static ManifestObject JobManifest(JobRunSettings settings)
    {
        var given = (settings.Manifest is null ? 0 : 1) + (settings.InlineManifest is null ? 0 : 1) + (settings.Image is null ? 0 : 1);
        if (given != 1)
        {
            throw new KubeDindException("Run job: give exactly one of JobRunSettings.Manifest, InlineManifest or Image.");
        }

        if (settings.Image is { } image)
        {
            var container = new V1Container { Name = "job", Image = image, Command = settings.Command.Count > 0 ? [.. settings.Command] : null };
            var job = new V1Job
            {
                ApiVersion = "batch/v1",
                Kind = "Job",
                Metadata = new V1ObjectMeta { Name = settings.Name ?? "kubedind-job-" + Guid.NewGuid().ToString("N")[..8] },
                Spec = new V1JobSpec
                {
                    BackoffLimit = 0,
                    Template = new V1PodTemplateSpec { Spec = new V1PodSpec { RestartPolicy = "Never", Containers = [container] } },
                },
            };
            return ManifestObject.FromModel(job, "JobRunSettings.Image");
        }

        var objects = settings.Manifest is { } file
            ? ManifestReader.Read(new DeploySettings { Manifests = [file] })
            : ManifestReader.ReadText(settings.InlineManifest!, "inline job manifest");
        var jobs = objects.Where(o => o.Kind == "Job").ToList();
        if (jobs.Count != 1 || objects.Count != 1)
        {
            throw new KubeDindException($"Run job: {settings.Manifest ?? "the inline manifest"} must hold exactly one Job (it holds {string.Join(", ", objects.Select(o => o.DisplayName))}); deploy the rest with Deploy.");
        }

        return jobs[0];
    }

    private static async Task DeleteEarlierAsync(IKubernetes client, string name, string ns, TimeSpan interval, CancellationToken cancellationToken)
    {
        var existing = await client.ReadOrNullAsync($"Run job: reading Job {ns}/{name}", c => c.BatchV1.ReadNamespacedJobAsync(name, ns, cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (existing is null)
        {
            return;
        }

        await client.ReadOrNullAsync($"Run job: deleting the earlier Job {ns}/{name}", c => c.BatchV1.DeleteNamespacedJobAsync(name, ns, propagationPolicy: "Background", cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Poll.UntilAsync(
            $"the earlier Job {ns}/{name} to be deleted",
            async token => await client.ReadOrNullAsync($"Run job: reading Job {ns}/{name}", c => c.BatchV1.ReadNamespacedJobAsync(name, ns, cancellationToken: token)).ConfigureAwait(false) is null
                ? PollStep<bool>.Finished(true)
                : PollStep<bool>.NotYet("still there"),
            interval,
            null,
            cancellationToken).ConfigureAwait(false);
    }
}
