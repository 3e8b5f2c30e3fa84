using System.Text;
using k8s;
using k8s.Models;

namespace KubeDind.Deploy;

/// <summary>One container's log: of its current instance, or of the previous one after a restart.</summary>
public sealed record ContainerLog(string Pod, string Container, bool Previous, string Text);

/// <summary>The logs of a workload's pods, every container (init containers too), previous instances included.</summary>
public sealed record WorkloadLogs(string Workload, IReadOnlyList<ContainerLog> Containers)
{
    /// <summary>Every log, each under a "==> pod/container &lt;==" header (the header left out when there is one log).</summary>
    public string Text => Containers.Count == 1
        ? Containers[0].Text
        : string.Concat(Containers.Select(c => $"==> {c.Pod}/{c.Container}{(c.Previous ? " (previous)" : string.Empty)} <==\n{c.Text}{(c.Text.EndsWith('\n') || c.Text.Length == 0 ? string.Empty : "\n")}"));

    public override string ToString() => Text;
}

/// <summary>
/// Reads the logs of a pod, or of every pod of a Job, Deployment, StatefulSet or DaemonSet — found through the
/// live object's selector, so pods of a Job whose template has no labels are found too.
/// </summary>
internal static class PodLogs
{
    /// <param name="kind">Pod, Job, Deployment, StatefulSet or DaemonSet.</param>
    /// <param name="tailLines">Only the last lines of each log; all of it when null.</param>
    public static async Task<WorkloadLogs> ReadAsync(IKubernetes client, string kind, string name, string @namespace = "default", int? tailLines = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var check = WorkloadChecks.For(kind) ?? throw new KubeDindException($"Logs: kind {kind} has no pods to read logs from; give Pod, Job, Deployment, StatefulSet or DaemonSet.");
        var live = await check.ReadAsync(client, name, @namespace, cancellationToken).ConfigureAwait(false)
            ?? throw new KubeDindException($"Logs: {kind} {@namespace}/{name} does not exist; deploy it first or fix the name.");
        var pods = live.Pod is { } pod ? [pod] : await RolloutWaiter.ListPodsAsync(client, @namespace, live.Selector, cancellationToken).ConfigureAwait(false);
        var logs = new List<ContainerLog>();
        foreach (var each in pods.OrderBy(p => p.Metadata?.CreationTimestamp).ThenBy(PodStates.Name, StringComparer.Ordinal))
        {
            var statuses = PodStates.ContainerStatuses(each).ToDictionary(s => s.Name, StringComparer.Ordinal);
            foreach (var container in (each.Spec?.InitContainers ?? []).Concat(each.Spec?.Containers ?? []))
            {
                var status = statuses.GetValueOrDefault(container.Name);
                var restarted = status is not null && (status.RestartCount > 0 || status.LastState?.Terminated is not null);
                if (restarted)
                {
                    logs.Add(new ContainerLog(PodStates.Name(each), container.Name, true, await ReadOrExplainAsync(client, each, container.Name, true, tailLines, cancellationToken).ConfigureAwait(false)));
                }

                // A restarted container waiting to start again (CrashLoopBackOff) has no current instance: the kubelet
                // answers its log with the last terminated one, the previous log read above.
                if (!(restarted && status!.State?.Waiting is not null))
                {
                    logs.Add(new ContainerLog(PodStates.Name(each), container.Name, false, await ReadOrExplainAsync(client, each, container.Name, false, tailLines, cancellationToken).ConfigureAwait(false)));
                }
            }
        }

        return new WorkloadLogs($"{kind} {@namespace}/{name}", logs);
    }

    /// <summary>One container's log as text; a refusal (container not started yet) is a <see cref="KubeDindException"/>.</summary>
    internal static async Task<string> ReadTextAsync(IKubernetes client, string pod, string @namespace, string container, bool previous, int? tailLines, CancellationToken cancellationToken)
    {
        var stream = await client.CallAsync($"reading the log of {@namespace}/{pod}/{container}", c => c.CoreV1.ReadNamespacedPodLogAsync(pod, @namespace, container: container, previous: previous, tailLines: tailLines, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<string> ReadOrExplainAsync(IKubernetes client, V1Pod pod, string container, bool previous, int? tailLines, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadTextAsync(client, PodStates.Name(pod), PodStates.Namespace(pod), container, previous, tailLines, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeDindException ex)
        {
            return $"(no log: {ex.Message})\n";
        }
    }
}
