using System.Diagnostics;
using k8s;
using k8s.Models;
using KubeDind.Diagnostics;
using KubeDind.Logging;
using KubeDind.Waiting;

namespace KubeDind.Deploy;

/// <summary>
/// The Deploy step: read the manifests, rewrite their images, check every kind is known, apply in
/// dependency order with server-side apply (waiting for CRDs to be Established), then wait for every
/// workload to roll out. A failed or timed-out rollout writes a diagnostics bundle and throws
/// <see cref="DeployFailedException"/> naming the cause and the bundle; nothing is ever deleted.
/// </summary>
internal static class DeployStep
{
    public static async Task<DeployResult> RunAsync(IKubernetes client, DeploySettings settings, DeployContext context, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var log = context.Log;
        var defaultNamespace = settings.Namespace ?? "default";

        var manifests = (await ManifestReader.ReadAsync(settings, context.Kustomize, cancellationToken).ConfigureAwait(false)).ToList();
        var rewriter = new ImageRewriter(settings.ImageRewrites, context.PushedImages);
        var images = manifests.SelectMany(rewriter.Rewrite).ToList();
        var warnings = new List<string>();
        foreach (var image in images.Where(i => i.Source == ImageSource.Unknown).DistinctBy(i => (i.Workload, i.Original)))
        {
            var warning = $"{image.Workload}: image {image.Original} was neither pushed in this run nor rewritten; the cluster will try to pull it (add it to ImageRewrites or push it first).";
            warnings.Add(warning);
            log.Warn(warning);
        }

        var api = new KubeApi(client);
        var discovery = new ApiDiscovery(api);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(settings.Timeout);
        var token = deadline.Token;

        try
        {
            var resources = await ResolveKindsAsync(manifests, discovery, defaultNamespace, token).ConfigureAwait(false);
            if (settings.Namespace is { } ns && ns != "default" && !manifests.Any(m => m.Kind == "Namespace" && m.Name == ns))
            {
                var namespaceObject = ManifestObject.FromModel(new V1Namespace { ApiVersion = "v1", Kind = "Namespace", Metadata = new V1ObjectMeta { Name = ns } }, "DeploySettings.Namespace");
                manifests.Insert(0, namespaceObject);
                resources[namespaceObject] = new ApiResource("v1", "Namespace", "namespaces", false);
            }

            foreach (var unserved in UnservedObjects.Describe(manifests, context.Components))
            {
                warnings.Add(unserved);
                log.Warn(unserved);
            }

            var ordered = ManifestOrder.Sort(manifests);
            log.Info($"Deploying {ordered.Count} objects to {context.ClusterName} ({string.Join(", ", ordered.GroupBy(o => o.Kind).Select(g => $"{g.Count()} {g.Key}"))})");
            var apply = new ServerSideApply(api, settings.FieldManager);
            var applied = new Dictionary<ManifestObject, bool>();
            var crds = new List<ManifestObject>();
            var order = settings.WaitForRollout ? ClaimBinding.Order(ordered, defaultNamespace) : ClaimOrder.Unchanged(ordered);
            var waitedFor = new HashSet<(string Namespace, string Name)>();
            foreach (var manifest in order.Manifests)
            {
                // Each claim once: the first workload mounting it waits for it.
                if (order.Mounts.TryGetValue(manifest, out var mounts) && mounts.Where(waitedFor.Add).ToList() is { Count: > 0 } mounted)
                {
                    await ClaimBinding.WaitForImmediateAsync(client, mounted, log, token).ConfigureAwait(false);
                }

                if (crds.Count > 0 && ManifestOrder.RankOf(manifest.Kind) > ManifestOrder.RankOf("CustomResourceDefinition"))
                {
                    await WaitForCrdsAsync(client, discovery, crds, log, settings.PollInterval, token).ConfigureAwait(false);
                    crds.Clear();
                }

                var resource = resources.TryGetValue(manifest, out var known) ? known : await FindCustomKindAsync(discovery, manifest, settings.PollInterval, token).ConfigureAwait(false);
                resources[manifest] = resource;
                var (_, created) = await apply.ApplyAsync(manifest, resource, token).ConfigureAwait(false);
                applied[manifest] = created;
                log.Info($"{manifest.DisplayName} {(created ? "created" : "configured")}");
                if (manifest.Kind == "CustomResourceDefinition")
                {
                    crds.Add(manifest);
                }
            }

            if (crds.Count > 0)
            {
                await WaitForCrdsAsync(client, discovery, crds, log, settings.PollInterval, token).ConfigureAwait(false);
            }

            var workloads = ordered.Where(m => ManifestOrder.IsWorkload(m.Kind) && m.Group is "" or "apps" or "batch").ToList();
            IReadOnlyList<RolloutOutcome> outcomes = [];
            if (settings.WaitForRollout && workloads.Count > 0)
            {
                await ClusterDnsCheck.ExplainIfMissingAsync(client, log, context.ClusterName, token).ConfigureAwait(false);
                var remaining = settings.Timeout - watch.Elapsed;
                outcomes = await new RolloutWaiter(client, log, settings).WaitAsync(workloads, remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
            }

            var objects = ordered.Select(m =>
            {
                var outcome = outcomes.FirstOrDefault(o => o.Workload == m);
                var state = outcome is null ? (applied[m] ? "created" : "configured") : $"{outcome.State}: {outcome.Observation}";
                return new AppliedObject(m.ApiVersion, m.Kind, m.Name, m.Namespace, applied[m], outcome?.State, state) { RolloutTime = outcome?.Elapsed };
            }).ToList();

            var failed = outcomes.Where(o => o.State is RolloutState.Failed or RolloutState.TimedOut).ToList();
            if (failed.Count == 0)
            {
                if (settings.WaitForRollout)
                {
                    var services = ordered.Where(m => m.Kind == "Service" && m.Group == "").ToList();
                    await new ServiceRouting(client, context.NodeRoutes, log).WaitAsync(services, settings.PollInterval, token).ConfigureAwait(false);
                }

                log.Info($"Deployed {objects.Count} objects to {context.ClusterName} in {watch.Elapsed.TotalSeconds:0.0}s");
                return new DeployResult(objects, images, warnings, watch.Elapsed);
            }

            var bundle = await CollectAsync(client, context, settings, failed, cancellationToken).ConfigureAwait(false);
            var result = new DeployResult(objects, images, warnings, watch.Elapsed, bundle);
            foreach (var line in bundle.Summary)
            {
                log.Error(line);
            }

            throw new DeployFailedException(FailureMessage(context, settings, failed, bundle), string.Join('\n', bundle.Summary.Concat(failed.Select(f => $"{f.Workload.DisplayName}: {f.State}: {f.Observation}"))), result);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            var waitedFor = ex is WaitCancelledException ? ex.Message : "gave up waiting for the API to answer";
            throw new KubeDindException($"Deploy to {context.ClusterName}: applying the manifests did not finish within {settings.Timeout.TotalSeconds:0}s ({waitedFor}); raise DeploySettings.Timeout.", null, ex);
        }
    }

    /// <summary>Writes a diagnostics bundle for the cluster now (all namespaces), for a test that failed for its own reasons.</summary>
    public static async Task<DiagnosticsBundle> CollectDiagnosticsAsync(IKubernetes client, DeployContext context, CancellationToken cancellationToken = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        return await new DiagnosticsCollector(client, context).CollectAsync([], timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// One failure: one line naming the workload, its cause and the bundle. Several: a first line with the count and
    /// the bundle, then one line per failing workload, most actionable first.
    /// </summary>
    private static string FailureMessage(DeployContext context, DeploySettings settings, IReadOnlyList<RolloutOutcome> failed, DiagnosticsBundle bundle)
    {
        if (failed.Count == 1)
        {
            var only = failed[0];
            var cause = bundle.Summary.FirstOrDefault() ?? only.Observation;
            return only.State == RolloutState.TimedOut
                ? $"Deploy to {context.ClusterName}: {only.Workload.DisplayName} did not roll out within {settings.Timeout.TotalSeconds:0}s (waited for {only.WaitsFor}; last saw {only.Observation}); likely cause: {cause}; diagnostics in {bundle.Directory}"
                : $"Deploy to {context.ClusterName}: {only.Workload.DisplayName} failed: {cause}; diagnostics in {bundle.Directory}";
        }

        var timedOut = failed.Count(f => f.State == RolloutState.TimedOut);
        var lines = bundle.Summary.Select(line => "  " + line);
        return $"Deploy to {context.ClusterName}: {failed.Count} workloads failed"
            + (timedOut > 0 ? $" ({timedOut} did not roll out within {settings.Timeout.TotalSeconds:0}s)" : string.Empty)
            + $"; diagnostics in {bundle.Directory}:\n" + string.Join('\n', lines);
    }

    private static async Task<DiagnosticsBundle> CollectAsync(IKubernetes client, DeployContext context, DeploySettings settings, IReadOnlyList<RolloutOutcome> failed, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        var failing = failed.Select(f => new FailingWorkload(f.Workload.Name, f.Workload.Kind, f.Workload.Namespace ?? "default", f.Selector, f.Observation, f.Cause)).ToList();
        return await new DiagnosticsCollector(client, context, settings.LogTailLines).CollectAsync(failing, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Looks every kind up before anything is applied, so an unknown kind fails with nothing changed.
    /// Kinds defined by a CRD in the same deploy are resolved after that CRD is applied.
    /// </summary>
    private static async Task<Dictionary<ManifestObject, ApiResource>> ResolveKindsAsync(IReadOnlyList<ManifestObject> manifests, ApiDiscovery discovery, string defaultNamespace, CancellationToken cancellationToken)
    {
        var definedHere = manifests.Where(m => m.Kind == "CustomResourceDefinition").SelectMany(CrdKinds).ToList();
        var resources = new Dictionary<ManifestObject, ApiResource>();
        foreach (var manifest in manifests)
        {
            var resource = await discovery.FindAsync(manifest.ApiVersion, manifest.Kind, cancellationToken).ConfigureAwait(false);
            bool namespaced;
            if (resource is not null)
            {
                resources[manifest] = resource;
                namespaced = resource.Namespaced;
            }
            else if (definedHere.FirstOrDefault(d => d.ApiVersion == manifest.ApiVersion && d.Kind == manifest.Kind) is { ApiVersion: not null } crd)
            {
                namespaced = crd.Namespaced;
            }
            else
            {
                throw new KubeDindException($"Deploy: kind {manifest.Kind} (apiVersion {manifest.ApiVersion}) in {manifest.Origin} is not known to the cluster; fix the apiVersion or deploy its CustomResourceDefinition first.");
            }

            if (namespaced && string.IsNullOrEmpty(manifest.Namespace))
            {
                manifest.Namespace = defaultNamespace;
            }
        }

        return resources;
    }

    private static IEnumerable<(string ApiVersion, string Kind, bool Namespaced)> CrdKinds(ManifestObject crd)
    {
        var spec = crd.ToModel<V1CustomResourceDefinition>().Spec;
        var group = spec?.Group;
        var kind = spec?.Names?.Kind;
        var namespaced = spec?.Scope != "Cluster";
        foreach (var version in spec?.Versions ?? [])
        {
            if (group is not null && kind is not null && version.Name is { } name)
            {
                yield return ($"{group}/{name}", kind, namespaced);
            }
        }
    }

    private static async Task WaitForCrdsAsync(IKubernetes client, ApiDiscovery discovery, IReadOnlyList<ManifestObject> crds, IKubeDindLog log, TimeSpan poll, CancellationToken cancellationToken)
    {
        foreach (var crd in crds)
        {
            await Poll.UntilAsync(
                $"CustomResourceDefinition {crd.Name} to be Established",
                async token =>
                {
                    var live = await client.ReadOrNullAsync($"Deploy: reading {crd.DisplayName}", c => c.ApiextensionsV1.ReadCustomResourceDefinitionAsync(crd.Name, cancellationToken: token)).ConfigureAwait(false);
                    var established = live?.Status?.Conditions?.FirstOrDefault(c => c.Type == "Established");
                    return established?.Status == "True"
                        ? PollStep<bool>.Finished(true)
                        : PollStep<bool>.NotYet(established is null ? "no Established condition yet" : $"Established={established.Status} {established.Reason}".TrimEnd());
                },
                poll,
                null,
                cancellationToken).ConfigureAwait(false);
            log.Info($"{crd.DisplayName} established");
            foreach (var (apiVersion, _, _) in CrdKinds(crd))
            {
                discovery.Forget(apiVersion);
            }
        }
    }

    private static async Task<ApiResource> FindCustomKindAsync(ApiDiscovery discovery, ManifestObject manifest, TimeSpan poll, CancellationToken cancellationToken)
    {
        // Discovery can lag a moment behind an Established CRD.
        var found = await Poll.UntilAsync(
            $"kind {manifest.Kind} (apiVersion {manifest.ApiVersion}) to appear in discovery",
            async token =>
            {
                discovery.Forget(manifest.ApiVersion);
                return await discovery.FindAsync(manifest.ApiVersion, manifest.Kind, token).ConfigureAwait(false) is { } resource
                    ? PollStep<ApiResource>.Finished(resource)
                    : PollStep<ApiResource>.NotYet("not in discovery yet");
            },
            poll,
            null,
            cancellationToken).ConfigureAwait(false);
        return found.Value!;
    }
}
