using System.Text.RegularExpressions;

namespace KubeDind.Deploy;

/// <summary>
/// Where kube-proxy on one node sends each Service port's traffic, read from its iptables NAT rules: one DNAT rule per
/// endpoint, commented with the Service port's name ("namespace/service:port", or "namespace/service" for an unnamed
/// port). iptables has no structured output, so this parses iptables-save's rule syntax, which is stable across
/// versions; <see cref="Readable"/> is false where the rules are not kube-proxy's iptables mode (ipvs, nftables, no
/// kube-proxy, rules without comments), and then nothing can be said about the node.
/// </summary>
internal sealed partial class KubeProxyRules
{
    /// <summary>The API server's own Service: in iptables mode kube-proxy always routes it, so its rule proves the mode.</summary>
    internal const string AlwaysRouted = "default/kubernetes:https";

    private readonly Dictionary<string, HashSet<string>> _destinations;

    private KubeProxyRules(Dictionary<string, HashSet<string>> destinations) => _destinations = destinations;

    public bool Readable => _destinations.ContainsKey(AlwaysRouted);

    /// <summary>The endpoint addresses (without ports) kube-proxy sends <paramref name="servicePort"/>'s traffic to; empty when none.</summary>
    public IReadOnlySet<string> DestinationsOf(string servicePort) =>
        _destinations.TryGetValue(servicePort, out var found) ? found : new HashSet<string>();

    /// <summary>The key kube-proxy comments a Service port's rules with.</summary>
    public static string ServicePortKey(string @namespace, string service, string? portName) =>
        string.IsNullOrEmpty(portName) ? $"{@namespace}/{service}" : $"{@namespace}/{service}:{portName}";

    /// <summary>Reads the output of <c>iptables-save -t nat</c>.</summary>
    public static KubeProxyRules Parse(string iptablesSave)
    {
        var destinations = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var line in iptablesSave.Split('\n'))
        {
            if (EndpointRule().Match(line.TrimEnd('\r')) is not { Success: true } rule)
            {
                continue;
            }

            var key = rule.Groups["quoted"].Success ? rule.Groups["quoted"].Value : rule.Groups["bare"].Value;
            if (!destinations.TryGetValue(key, out var set))
            {
                destinations[key] = set = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            }

            set.Add(AddressOf(rule.Groups["destination"].Value));
        }

        return new KubeProxyRules(destinations);
    }

    /// <summary>"10.42.0.7:8080" → "10.42.0.7" (iptables' rules are IPv4's).</summary>
    private static string AddressOf(string destination)
    {
        var colon = destination.LastIndexOf(':');
        return colon > 0 ? destination[..colon] : destination;
    }

    [GeneratedRegex("""^-A KUBE-SEP-\S+ .*?--comment (?:"(?<quoted>[^"]*)"|(?<bare>\S+)) .*?-j DNAT .*?--to-destination (?<destination>\S+)""", RegexOptions.CultureInvariant)]
    private static partial Regex EndpointRule();
}
