using System.Diagnostics;
using System.Text.Json.Nodes;
using KubeDind.Logging;

namespace KubeDind.Deploy;

/// <summary>How one workload's rollout ended.</summary>
public sealed record RolloutOutcome(ManifestObject Workload, RolloutState State, string Observation, string WaitsFor);

/// <summary>
/// Polls every workload until each has rolled out, one failed, or the time is up. Logs progress per
/// workload whenever what it sees changes. With fail-fast, a pod stuck on ImagePullBackOff,
/// CrashLoopBackOff and the like ends the wait at once instead of at the timeout.
/// </summary>
internal sealed class RolloutWaiter
{
    private readonly KubeApi _api;
    private readonly IKubeDindLog _log;
    private readonly DeploySettings _settings;

    public RolloutWaiter(KubeApi api, IKubeDindLog log, DeploySettings settings)
    {
        _api = api;
        _log = log;
        _settings = settings;
    }

    public async Task<IReadOnlyList<RolloutOutcome>> WaitAsync(IReadOnlyList<(ManifestObject Manifest, ApiResource Resource)> workloads, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var outcomes = new Dictionary<ManifestObject, RolloutOutcome>();
        var lastSeen = new Dictionary<ManifestObject, string>();
        while (true)
        {
            var pending = workloads.Where(w => !outcomes.ContainsKey(w.Manifest)).ToList();
            foreach (var (manifest, resource) in pending)
            {
                var check = WorkloadChecks.For(manifest.Kind)!;
                var live = await _api.GetAsync(resource.PathOf(manifest.Name, manifest.Namespace), cancellationToken).ConfigureAwait(false);
                var status = live is null ? RolloutStatus.Progressing("not found (deleted by someone else?)") : check.Evaluate(live);
                if (status.State == RolloutState.Progressing && _settings.FailFast && live is not null
                    && await FindStuckPodAsync(manifest, live, cancellationToken).ConfigureAwait(false) is { } stuck)
                {
                    status = RolloutStatus.Failed(stuck);
                }

                if (!lastSeen.TryGetValue(manifest, out var previous) || previous != status.Observation)
                {
                    lastSeen[manifest] = status.Observation;
                    _log.Info($"{manifest.DisplayName}: {status.Observation}");
                }

                if (status.State != RolloutState.Progressing)
                {
                    outcomes[manifest] = new RolloutOutcome(manifest, status.State, status.Observation, check.WaitsFor);
                    if (status.State == RolloutState.Ready)
                    {
                        _log.Info($"{manifest.DisplayName}: rolled out after {watch.Elapsed.TotalSeconds:0.0}s");
                    }
                }
            }

            if (outcomes.Count == workloads.Count || outcomes.Values.Any(o => o.State == RolloutState.Failed))
            {
                break;
            }

            if (watch.Elapsed >= timeout)
            {
                foreach (var (manifest, _) in workloads.Where(w => !outcomes.ContainsKey(w.Manifest)))
                {
                    outcomes[manifest] = new RolloutOutcome(manifest, RolloutState.TimedOut, lastSeen.GetValueOrDefault(manifest, "no status yet"), WorkloadChecks.For(manifest.Kind)!.WaitsFor);
                }

                break;
            }

            await Task.Delay(_settings.PollInterval, cancellationToken).ConfigureAwait(false);
        }

        // Workloads not looked at because another failed first count as not waited for.
        return workloads.Select(w => outcomes.TryGetValue(w.Manifest, out var o) ? o
            : new RolloutOutcome(w.Manifest, RolloutState.NotWaited, lastSeen.GetValueOrDefault(w.Manifest, "not waited for"), WorkloadChecks.For(w.Manifest.Kind)!.WaitsFor)).ToList();
    }

    private async Task<string?> FindStuckPodAsync(ManifestObject manifest, JsonNode live, CancellationToken cancellationToken)
    {
        IEnumerable<JsonNode> pods;
        if (manifest.Kind == "Pod")
        {
            pods = [live];
        }
        else if (PodStates.SelectorOf(live) is { } selector)
        {
            var list = await _api.GetAsync($"/api/v1/namespaces/{Uri.EscapeDataString(manifest.Namespace ?? "default")}/pods?labelSelector={Uri.EscapeDataString(selector)}", cancellationToken).ConfigureAwait(false);
            pods = (list?["items"] as JsonArray ?? []).OfType<JsonNode>();
        }
        else
        {
            return null;
        }

        foreach (var pod in pods)
        {
            if (PodStates.HardFailure(pod) is { } failure)
            {
                return $"pod {PodStates.Name(pod)}: container {failure.Container} is {failure.Reason}" + (failure.Message is { Length: > 0 } m ? $" ({m.Split('\n')[0]})" : string.Empty);
            }
        }

        return null;
    }
}
