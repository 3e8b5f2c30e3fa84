using k8s;
using k8s.Models;
using KubeDind.Logging;
using KubeDind.Waiting;

namespace KubeDind.Deploy;

/// <summary>
/// Waits, after the workloads rolled out, until every Service the deploy applied sends its traffic to the ready pods it
/// selects: their addresses ready in its EndpointSlices, then kube-proxy's rules on every node pointing at exactly
/// those. A pod is Ready a moment before the endpoint controller and then each node's kube-proxy catch up (about a
/// second on a quiet node, more on a loaded one); a test calling a Service in that moment is refused, so "deployed"
/// includes it.
/// </summary>
internal sealed class ServiceRouting(IKubernetes client, INodeRoutesReader? nodes, IKubeDindLog log)
{
    /// <summary>How often routes are looked at: kube-proxy applies a change within about a second, so a coarse poll would be most of the wait.</summary>
    internal static readonly TimeSpan LookInterval = TimeSpan.FromMilliseconds(200);

    public async Task WaitAsync(IReadOnlyList<ManifestObject> services, TimeSpan interval, CancellationToken cancellationToken)
    {
        if (services.Count == 0)
        {
            return;
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var unreadable = new HashSet<string>();
        var lastSeen = string.Empty;
        await Poll.UntilAsync<bool>(
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
        log.Info($"{services.Count} Services route to their ready pods ({watch.Elapsed.TotalSeconds:0.0}s)");
    }

    private async Task<string?> LookAsync(ManifestObject manifest, IReadOnlyList<NodeRoutes> routes, CancellationToken cancellationToken)
    {
        var ns = manifest.Namespace ?? "default";
        var service = await client.ReadOrNullAsync($"Deploy: reading Service {ns}/{manifest.Name}", c => c.CoreV1.ReadNamespacedServiceAsync(manifest.Name, ns, cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (service?.Spec?.Selector is not { Count: > 0 } selector || service.Spec.Type == "ExternalName")
        {
            return null;
        }

        var pods = await RolloutWaiter.ListPodsAsync(client, ns, new V1LabelSelector { MatchLabels = selector }, cancellationToken).ConfigureAwait(false);
        // discovery.k8s.io/v1 is served from Kubernetes 1.21; an older existing cluster answers 404 and is not waited for.
        var slices = await client.ReadOrNullAsync($"Deploy: listing the EndpointSlices of Service {ns}/{manifest.Name}", c => c.DiscoveryV1.ListNamespacedEndpointSliceAsync(ns, labelSelector: $"kubernetes.io/service-name={manifest.Name}", cancellationToken: cancellationToken)).ConfigureAwait(false);
        return slices is null ? null : Missing(service, pods, slices.Items, routes);
    }

    /// <summary>What keeps <paramref name="service"/> from routing to its ready pods, or null when nothing does.</summary>
    internal static string? Missing(V1Service service, IEnumerable<V1Pod> pods, IEnumerable<V1EndpointSlice> slices, IReadOnlyList<NodeRoutes> routes)
    {
        var name = $"Service {service.Namespace() ?? "default"}/{service.Name()}";
        var endpoints = slices.SelectMany(s => (s.Endpoints ?? []).Select(e => (Slice: s, Endpoint: e))).ToList();
        var readyInSlices = endpoints.Where(e => e.Endpoint.Conditions?.Ready != false).SelectMany(e => e.Endpoint.Addresses ?? []).ToHashSet(StringComparer.OrdinalIgnoreCase);
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
        var ipv4 = endpoints.Where(e => e.Slice.AddressType == "IPv4").ToList();
        var hinted = ipv4.Any(e => e.Endpoint.Hints?.ForZones is { Count: > 0 });
        foreach (var port in service.Spec.Ports ?? [])
        {
            var serving = ipv4
                .Where(e => e.Endpoint.Conditions?.Ready != false && (e.Slice.Ports ?? []).Any(p => (p.Name ?? string.Empty) == (port.Name ?? string.Empty)))
                .SelectMany(e => e.Endpoint.Addresses ?? [])
                .ToHashSet(StringComparer.OrdinalIgnoreCase);
            if (serving.Count == 0)
            {
                continue;
            }

            var key = KubeProxyRules.ServicePortKey(service.Namespace() ?? "default", service.Name(), port.Name);
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
        && pod.Status.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
}
