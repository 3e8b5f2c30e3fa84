using System.Diagnostics;
using k8s;
using k8s.Models;
using KubeDind.Logging;
using KubeDind.Waiting;

namespace KubeDind.Deploy;

/// <summary>How one workload's rollout ended; <see cref="Selector"/> is the live object's pod selector, <see cref="Cause"/> what failed it fast.</summary>
public sealed record RolloutOutcome(ManifestObject Workload, RolloutState State, string Observation, string WaitsFor)
{
    public V1LabelSelector? Selector { get; init; }

    public string? Cause { get; init; }

    /// <summary>How long the wait took until this workload rolled out, failed or the time was up.</summary>
    public TimeSpan Elapsed { get; init; }
}

/// <summary>
/// Polls every workload in parallel until each has rolled out or failed for a reason waiting cannot fix
/// (<see cref="PermanentFailures"/>), or the time is up; one failure does not stop the wait for the others,
/// so a deploy reports every failing workload at once. Logs each workload whenever what it sees changes.
/// </summary>
internal sealed class RolloutWaiter
{
    /// <summary>
    /// After the first failure, how long workloads that looked rolled out are still watched for one. A container that
    /// crashes at start is Running (so its pod Ready, its workload available) for a moment before each crash; a look in
    /// that moment sees a rolled-out workload whose crash loop shows a few seconds later and belongs in the same report.
    /// </summary>
    internal static readonly TimeSpan RecheckAfterFailure = TimeSpan.FromSeconds(10);

    private readonly IKubernetes _client;
    private readonly IKubeDindLog _log;
    private readonly DeploySettings _settings;
    private readonly PermanentFailures _permanent;

    public RolloutWaiter(IKubernetes client, IKubeDindLog log, DeploySettings settings)
    {
        _client = client;
        _log = log;
        _settings = settings;
        _permanent = new PermanentFailures(client);
    }

    public async Task<IReadOnlyList<RolloutOutcome>> WaitAsync(IReadOnlyList<ManifestObject> workloads, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var outcomes = new Dictionary<ManifestObject, RolloutOutcome>();
        var lastSeen = new Dictionary<ManifestObject, string>();
        var selectors = new Dictionary<ManifestObject, V1LabelSelector?>();
        var suspectedSince = new Dictionary<(ManifestObject, string), TimeSpan>();
        TimeSpan? firstFailure = null;
        await using var changes = WorkloadChanges.Start(_client, workloads.Select(w => (w.Kind, w.Namespace ?? "default")), cancellationToken);

        var poll = await Poll.UntilAsync<bool>(
            "every workload to roll out",
            async token =>
            {
                var pending = workloads.Where(w => !outcomes.ContainsKey(w)).ToList();
                var looks = await Task.WhenAll(pending.Select(w => LookAsync(w, token))).ConfigureAwait(false);
                foreach (var (manifest, status, selector, suspicion) in looks)
                {
                    selectors[manifest] = selector;
                    var current = status;
                    string? cause = null;
                    if (suspicion is { } found)
                    {
                        var key = (manifest, found.Cause);
                        var since = suspectedSince.TryGetValue(key, out var first) ? first : suspectedSince[key] = watch.Elapsed;
                        if (!found.Lasting || watch.Elapsed - since >= _settings.FailFastAfter)
                        {
                            current = RolloutStatus.Failed(found.Cause);
                            cause = found.Cause;
                        }
                    }

                    if (!lastSeen.TryGetValue(manifest, out var previous) || previous != current.Observation)
                    {
                        lastSeen[manifest] = current.Observation;
                        _log.Info($"{manifest.DisplayName}: {current.Observation}");
                    }

                    if (current.State != RolloutState.Progressing)
                    {
                        outcomes[manifest] = new RolloutOutcome(manifest, current.State, current.Observation, WaitsFor(manifest)) { Selector = selector, Cause = cause, Elapsed = watch.Elapsed };
                        firstFailure ??= current.State == RolloutState.Failed ? watch.Elapsed : null;
                        _log.Info(current.State == RolloutState.Ready
                            ? $"{manifest.DisplayName}: rolled out after {watch.Elapsed.TotalSeconds:0.0}s"
                            : $"{manifest.DisplayName}: failed after {watch.Elapsed.TotalSeconds:0.0}s; still waiting for {workloads.Count - outcomes.Count} other workloads");
                    }
                }

                var left = workloads.Count - outcomes.Count;
                return left == 0 ? PollStep<bool>.Finished(true) : PollStep<bool>.NotYet($"{left} workloads still rolling out");
            },
            _settings.PollInterval,
            timeout,
            cancellationToken,
            changes.PauseAsync).ConfigureAwait(false);

        if (outcomes.Values.Any(o => o.State == RolloutState.Failed))
        {
            var until = Min(firstFailure!.Value + RecheckAfterFailure, timeout);
            await RecheckRolledOutAsync(outcomes, watch, until, cancellationToken).ConfigureAwait(false);
        }

        if (!poll.Done)
        {
            foreach (var manifest in workloads.Where(w => !outcomes.ContainsKey(w)))
            {
                outcomes[manifest] = new RolloutOutcome(manifest, RolloutState.TimedOut, lastSeen.GetValueOrDefault(manifest, "no status yet"), WaitsFor(manifest)) { Selector = selectors.GetValueOrDefault(manifest), Elapsed = watch.Elapsed };
            }
        }

        return workloads.Select(w => outcomes[w]).ToList();
    }

    /// <summary>
    /// Looks at the pods of every rolled-out workload until <paramref name="until"/> (at least once): one whose pod now
    /// shows a failure that waiting cannot fix is failed after all.
    /// </summary>
    private async Task RecheckRolledOutAsync(Dictionary<ManifestObject, RolloutOutcome> outcomes, Stopwatch watch, TimeSpan until, CancellationToken cancellationToken)
    {
        while (true)
        {
            var rolledOut = outcomes.Values.Where(o => o.State == RolloutState.Ready && o.Selector is not null).ToList();
            foreach (var outcome in rolledOut)
            {
                var ns = outcome.Workload.Namespace ?? "default";
                foreach (var pod in await ListPodsAsync(_client, ns, outcome.Selector, cancellationToken).ConfigureAwait(false))
                {
                    if (await _permanent.FindAsync(pod, cancellationToken).ConfigureAwait(false) is { Lasting: false } failure)
                    {
                        outcomes[outcome.Workload] = outcome with { State = RolloutState.Failed, Observation = failure.Cause, Cause = failure.Cause, Elapsed = watch.Elapsed };
                        _log.Info($"{outcome.Workload.DisplayName}: looked rolled out, then failed after {watch.Elapsed.TotalSeconds:0.0}s: {failure.Cause}");
                        break;
                    }
                }
            }

            var left = until - watch.Elapsed;
            if (left <= TimeSpan.Zero || rolledOut.Count == 0 || rolledOut.All(o => outcomes[o.Workload].State == RolloutState.Failed))
            {
                return;
            }

            await Task.Delay(Min(_settings.PollInterval, left), cancellationToken).ConfigureAwait(false);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string WaitsFor(ManifestObject manifest) => WorkloadChecks.For(manifest.Kind)!.WaitsFor;

    private async Task<(ManifestObject Manifest, RolloutStatus Status, V1LabelSelector? Selector, PermanentFailure? Suspicion)> LookAsync(ManifestObject manifest, CancellationToken cancellationToken)
    {
        var ns = manifest.Namespace ?? "default";
        var live = await WorkloadChecks.For(manifest.Kind)!.ReadAsync(_client, manifest.Name, ns, cancellationToken).ConfigureAwait(false);
        if (live is null)
        {
            return (manifest, RolloutStatus.Progressing("not found (deleted by someone else?)"), null, null);
        }

        if (live.Status.State != RolloutState.Progressing || !_settings.FailFast)
        {
            return (manifest, live.Status, live.Selector, null);
        }

        IReadOnlyList<V1Pod> pods = live.Pod is { } pod ? [pod] : await ListPodsAsync(_client, ns, live.Selector, cancellationToken).ConfigureAwait(false);
        if (pods.Count == 0)
        {
            return (manifest, live.Status, live.Selector, await _permanent.FindForNoPodsAsync(ns, live.PodSpec, cancellationToken).ConfigureAwait(false));
        }

        PermanentFailure? lasting = null;
        foreach (var candidate in pods)
        {
            var failure = await _permanent.FindAsync(candidate, cancellationToken).ConfigureAwait(false);
            if (failure is { Lasting: false })
            {
                return (manifest, live.Status, live.Selector, failure);
            }

            lasting ??= failure;
        }

        return (manifest, live.Status, live.Selector, lasting);
    }

    /// <summary>The pods a live selector picks, or none when it selects nothing.</summary>
    internal static async Task<IReadOnlyList<V1Pod>> ListPodsAsync(IKubernetes client, string ns, V1LabelSelector? selector, CancellationToken cancellationToken)
    {
        if (PodStates.SelectorQuery(selector) is not { } query)
        {
            return [];
        }

        var list = await client.CallAsync($"Deploy: listing pods in {ns} ({query})", c => c.CoreV1.ListNamespacedPodAsync(ns, labelSelector: query, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return list.Items.ToList();
    }
}
