using k8s;
using k8s.Models;
using KubeDind.Logging;
using KubeDind.Waiting;

namespace KubeDind.Deploy;

/// <summary>
/// Waits, after the workloads rolled out, until every Service the deploy applied sends its traffic to the ready pods it
/// selects: their addresses ready in its EndpointSlices, then kube-proxy's rules on every node pointing at exactly
/// those. A pod is Ready a moment before the endpoint controller and then each node's kube-proxy catch up (a few tenths
/// of a second on a quiet node, more on a loaded one); a test calling a Service in that moment is refused, so
/// "deployed" includes it.
/// </summary>
internal sealed class ServiceRouting(IKubernetes client, INodeRoutesReader? nodes, IKubeDindLog log)
{
    /// <summary>How often routes are looked at: kube-proxy applies a change within a few tenths of a second, so a coarse poll would be most of the wait.</summary>
    internal static readonly TimeSpan LookInterval = TimeSpan.FromMilliseconds(200);

    public async Task WaitAsync(IReadOnlyList<ManifestObject> manifests, TimeSpan interval, CancellationToken cancellationToken)
    {
        // A Service's selector and cluster IP do not change while the deploy waits: read once, not on every look.
        var services = (await Task.WhenAll(manifests.Select(m => ReadRoutedAsync(m, cancellationToken))).ConfigureAwait(false)).OfType<V1Service>().ToList();
        if (services.Count == 0)
        {
            return;
        }

        var unreadable = new HashSet<string>();
        var lastSeen = string.Empty;
        var outcome = await Poll.UntilAsync<bool>(
            $"{services.Count} Services to route to their ready pods",
            async token =>
            {
                var routes = nodes is null ? [] : await nodes.ReadAsync(token).ConfigureAwait(false);
                foreach (var node in routes.Where(r => r.Rules is not { Readable: true } && unreadable.Add(r.Node)))
                {
                    log.Debug($"Deploy: kube-proxy's rules on node {node.Node} are not in iptables mode (or cannot be read); only EndpointSlices say whether Services route there");
                }

                var looks = await Task.WhenAll(services.Select(s => LookAsync(s, routes, token))).ConfigureAwait(false);
                var waiting = looks.OfType<string>().ToList();
                if (waiting.Count == 0)
                {
                    return PollStep<bool>.Finished(true);
                }

                var observation = string.Join("; ", waiting);
                if (observation != lastSeen)
                {
                    lastSeen = observation;
                    log.Debug($"Deploy: waiting for Services to route: {observation}");
                }

                return PollStep<bool>.NotYet(observation);
            },
            interval < LookInterval ? interval : LookInterval,
            null,
            cancellationToken).ConfigureAwait(false);
        log.Info($"{services.Count} Services route to their ready pods ({outcome.Elapsed.TotalSeconds:0.0}s)");
    }

    /// <summary>The live Service, when it selects pods to route to (a selector, not ExternalName); null otherwise.</summary>
    private async Task<V1Service?> ReadRoutedAsync(ManifestObject manifest, CancellationToken cancellationToken)
    {
        var ns = manifest.Namespace ?? "default";
        var service = await client.ReadOrNullAsync($"Deploy: reading Service {ns}/{manifest.Name}", c => c.CoreV1.ReadNamespacedServiceAsync(manifest.Name, ns, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return service?.Spec?.Selector is { Count: > 0 } && service.Spec.Type != "ExternalName" ? service : null;
    }

    private async Task<string?> LookAsync(V1Service service, IReadOnlyList<NodeRoutes> routes, CancellationToken cancellationToken)
    {
        var ns = service.Namespace() ?? "default";
        var name = service.Name();
        var pods = await RolloutWaiter.ListPodsAsync(client, ns, new V1LabelSelector { MatchLabels = service.Spec.Selector }, cancellationToken).ConfigureAwait(false);
        // discovery.k8s.io/v1 is served from Kubernetes 1.21; an older existing cluster answers 404 and is not waited for.
        var slices = await client.ReadOrNullAsync($"Deploy: listing the EndpointSlices of Service {ns}/{name}", c => c.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns, labelSelector: $"kubernetes.io/service-name={name}", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return slices is null ? null : Missing(service, pods, slices.Items, routes);
    }

    /// <summary>What keeps <paramref name="service"/> from routing to its ready pods, or null when nothing does.</summary>
    internal static string? Missing(V1Service service, IEnumerable<V1Pod> pods, IEnumerable<V1EndpointSlice> slices, IReadOnlyList<NodeRoutes> routes)
    {
        var ns = service.Namespace() ?? "default";
        var name = $"Service {ns}/{service.Name()}";
        var endpoints = slices.SelectMany(s => (s.Endpoints ?? []).Select(e => (Slice: s, Endpoint: e))).ToList();
        var ready = endpoints.Where(e => e.Endpoint.Conditions?.Ready != false).ToList();
        var readyInSlices = ready.SelectMany(e => e.Endpoint.Addresses ?? []).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var readyPods = pods.Where(IsReadyToServe).Select(p => p.Status.PodIP).ToList();
        var notListed = readyPods.Count(ip => !readyInSlices.Contains(ip));
        if (notListed > 0)
        {
            return $"{name}: {notListed} of its {readyPods.Count} ready pods not yet among its ready endpoints";
        }

        // A headless Service is resolved by DNS, not routed; with internalTrafficPolicy Local each node routes only its own pods.
        if (service.Spec.ClusterIP is null or "None" || service.Spec.InternalTrafficPolicy == "Local")
        {
            return null;
        }

        // The rules read are iptables', IPv4's; a dual-stack Service's IPv6 endpoints are routed by ip6tables.
        var hinted = endpoints.Any(e => e.Slice.AddressType == "IPv4" && e.Endpoint.Hints?.ForZones is { Count: > 0 });
        foreach (var port in service.Spec.Ports ?? [])
        {
            var serving = ready
                .Where(e => e.Slice.AddressType == "IPv4" && (e.Slice.Ports ?? []).Any(p => (p.Name ?? string.Empty) == (port.Name ?? string.Empty)))
                .SelectMany(e => e.Endpoint.Addresses ?? [])
                .ToHashSet(StringComparer.OrdinalIgnoreCase);
            if (serving.Count == 0)
            {
                continue;
            }

            var key = KubeProxyRules.ServicePortKey(ns, service.Name(), port.Name);
            foreach (var node in routes.Where(r => r.Rules is { Readable: true }))
            {
                var routed = node.Rules!.DestinationsOf(key);

                // Topology hints let kube-proxy route a node to only its zone's endpoints: some of them, none stale.
                var done = hinted ? routed.Count > 0 && routed.IsSubsetOf(serving) : routed.SetEquals(serving);
                if (!done)
                {
                    var stale = routed.Count(a => !serving.Contains(a));
                    return $"{name}: kube-proxy on node {node.Node} routes port {port.Name ?? port.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)} to {routed.Count - stale} of its {serving.Count} ready endpoints"
                        + (stale > 0 ? $" and {stale} gone" : string.Empty);
                }
            }
        }

        return null;
    }

    /// <summary>A pod the endpoint controller lists as ready: running, Ready, with an address, not being deleted.</summary>
    private static bool IsReadyToServe(V1Pod pod) =>
        pod.Metadata?.DeletionTimestamp is null
        && pod.Status?.PodIP is { Length: > 0 }
        && pod.Status.Phase == "Running"
        && PodStates.IsReady(pod);
}
