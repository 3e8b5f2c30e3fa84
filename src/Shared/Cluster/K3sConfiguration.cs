using System.Text.Json;
using System.Text.Json.Nodes;

namespace KubeDind.Cluster;

/// <summary>
/// What k3s reads at start, written by the core into the created container before it starts:
/// <c>/etc/rancher/k3s/config.yaml</c> (the extra k3s arguments and the components turned off),
/// <c>/etc/rancher/k3s/registries.yaml</c> (<c>localhost:5000</c> and the registry mirrors) and the air-gap
/// images tarball in <c>/var/lib/rancher/k3s/agent/images/</c>. Both YAML files are written as JSON (which is YAML),
/// so the image's scripts read them with jq. This class renders and checks them; <see cref="K3sConfigurationFiles"/>
/// copies them into the container.
/// </summary>
internal static class K3sConfiguration
{
    /// <summary>How pods name the container's own registry (<c>localhost:5000/name:tag</c>).</summary>
    public const string LocalRegistry = "localhost:5000";

    /// <summary>Where k3s's containerd reaches the registry in its own container.</summary>
    public const string OwnRegistry = "http://127.0.0.1:5000";

    /// <summary>Where an agent's containerd reaches the server's registry: by the server container's name on their network.</summary>
    public static string ServerRegistry(string server) => $"http://{server}:{ClusterContainerSpec.RegistryContainerPort}";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Checks every input before a container exists; a bad one is a one-line error naming it.</summary>
    public static void Validate(string cluster, ClusterSettings settings)
    {
        _ = ConfigJson(cluster, settings);
        _ = RegistriesJson(cluster, settings);
        ValidateAgents(cluster, settings);
        if (settings.AirgapImages is { } airgap)
        {
            if (AirgapTarball.SuffixOf(airgap) is null)
            {
                throw new KubeDindException($"cluster {cluster}: AirgapImages '{airgap}' is not an image tarball KubeDind takes; give {AirgapTarball.Described}.");
            }

            if (!File.Exists(airgap))
            {
                throw new KubeDindException($"cluster {cluster}: AirgapImages '{airgap}' does not exist; download k3s-airgap-images-<arch>.tar.zst from the k3s release matching the cluster's k3s, or leave AirgapImages unset.");
            }
        }
    }

    /// <summary>The most agents a cluster may have: each node takes a /24 of the pod network, and every one is a full k3s node.</summary>
    public const int MaxAgents = 16;

    /// <summary>The k3s flags an agent takes from <see cref="ClusterSettings.K3sArgs"/> (the rest are the server's).</summary>
    public static readonly IReadOnlyList<string> AgentKeys = ["kubelet-arg", "kube-proxy-arg", "node-label", "node-taint"];

    /// <summary>The pod network: <c>--cluster-cidr</c> from <see cref="ClusterSettings.K3sArgs"/> (the last one), or k3s's default 10.42.0.0/16.</summary>
    public static string ClusterCidr(ClusterSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        string? cidr = null;
        for (var i = 0; i < settings.K3sArgs.Count; i++)
        {
            var arg = settings.K3sArgs[i];
            if (arg.StartsWith("--cluster-cidr=", StringComparison.Ordinal))
            {
                cidr = arg["--cluster-cidr=".Length..];
            }
            else if (arg == "--cluster-cidr" && i + 1 < settings.K3sArgs.Count)
            {
                cidr = settings.K3sArgs[++i];
            }
        }

        return cidr ?? "10.42.0.0/16";
    }

    /// <summary>Agents: a count KubeDind runs, on Kubernetes, with an IPv4 pod network holding a /24 per node.</summary>
    private static void ValidateAgents(string cluster, ClusterSettings settings)
    {
        if (settings.Agents == 0)
        {
            return;
        }

        if (settings.Agents is < 0 or > MaxAgents)
        {
            throw new KubeDindException($"cluster {cluster}: Agents = {settings.Agents} is out of range; give 0 (a single node) to {MaxAgents}.");
        }

        var cidr = ClusterCidr(settings);
        var parts = cidr.Split('/');
        if (parts.Length != 2 || !System.Net.IPAddress.TryParse(parts[0], out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
            || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix) || prefix > 32)
        {
            throw new KubeDindException($"cluster {cluster}: a multi-node cluster needs an IPv4 pod network, but --cluster-cidr is '{cidr}'; give one such as 10.42.0.0/16 (or leave it unset).");
        }

        if (prefix > 24 || (1 << (24 - prefix)) < settings.Agents + 1)
        {
            throw new KubeDindException($"cluster {cluster}: the pod network {cidr} has no /24 for each of the {settings.Agents + 1} nodes; give a larger --cluster-cidr (e.g. 10.42.0.0/16) or fewer Agents.");
        }
    }

    /// <summary>An agent's config.yaml: only the flags an agent takes (<see cref="AgentKeys"/>) from the settings' K3sArgs.</summary>
    public static string AgentConfigJson(string cluster, ClusterSettings settings)
    {
        var server = JsonNode.Parse(ConfigJson(cluster, settings))!.AsObject();
        var json = new JsonObject();
        foreach (var key in AgentKeys)
        {
            if (server[key] is { } value)
            {
                json[key] = value.DeepClone();
            }
        }

        return json.ToJsonString(Indented) + "\n";
    }

    /// <summary>config.yaml: the extra arguments as keys (repeated ones as lists), plus the components turned off.</summary>
    public static string ConfigJson(string cluster, ClusterSettings settings)
    {
        var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var order = new List<string>();
        void Add(string key, string value)
        {
            if (!values.TryGetValue(key, out var list))
            {
                values[key] = list = [];
                order.Add(key);
            }

            list.Add(value);
        }

        var args = settings.K3sArgs;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new KubeDindException($"cluster {cluster}: K3sArgs item '{arg}' is not a k3s flag; give long flags as --name=value, --name value or --name.");
            }

            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                Add(arg[2..equals], arg[(equals + 1)..]);
            }
            else if (i + 1 < args.Count && !args[i + 1].StartsWith('-'))
            {
                Add(arg[2..], args[++i]);
            }
            else
            {
                Add(arg[2..], "true");
            }
        }

        // --disable takes comma-separated lists too; KubeDind adds the components its settings leave off.
        var disable = values.GetValueOrDefault("disable")?.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList() ?? [];
        if (!settings.Traefik)
        {
            disable.Add("traefik");
        }

        if (!settings.Traefik && !settings.ServiceLoadBalancer)
        {
            disable.Add("servicelb");
        }

        var json = new JsonObject();
        foreach (var key in order.Where(k => k != "disable"))
        {
            var list = values[key];
            json[key] = list.Count == 1 ? JsonValue.Create(list[0]) : new JsonArray([.. list.Select(v => (JsonNode?)JsonValue.Create(v))]);
        }

        json["disable"] = new JsonArray([.. disable.Distinct(StringComparer.Ordinal).Select(v => (JsonNode?)JsonValue.Create(v))]);
        return json.ToJsonString(Indented) + "\n";
    }

    /// <summary>
    /// registries.yaml: <c>localhost:5000</c> is the container's own registry (an agent's: the server's, at
    /// <paramref name="localRegistry"/>); docker.io and every other registry through their mirrors.
    /// </summary>
    public static string RegistriesJson(string cluster, ClusterSettings settings, string localRegistry = OwnRegistry)
    {
        var mirrors = Mirrors(settings, localRegistry);
        var json = new JsonObject
        {
            ["mirrors"] = new JsonObject(mirrors.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)new JsonObject
            {
                ["endpoint"] = new JsonArray([.. m.Value.Select(e => (JsonNode?)JsonValue.Create(e))]),
            }))),
        };
        foreach (var (registry, endpoints) in mirrors)
        {
            if (registry.Length == 0 || registry.Contains("://", StringComparison.Ordinal) || registry.Contains('/', StringComparison.Ordinal))
            {
                throw new KubeDindException($"cluster {cluster}: RegistryMirrors key '{registry}' is not a registry host; give it as host[:port], e.g. quay.io.");
            }

            foreach (var endpoint in endpoints)
            {
                if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                {
                    throw new KubeDindException($"cluster {cluster}: mirror '{endpoint}' for {registry} is not an http(s) URL; give it as the cluster container reaches it, e.g. http://kubedind-mirror:5000.");
                }
            }
        }

        return json.ToJsonString(Indented) + "\n";
    }

    /// <summary>Registry host → endpoints, in the order containerd tries them (the registry itself comes last, implicitly).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Mirrors(ClusterSettings settings, string localRegistry = OwnRegistry)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
        {
            [LocalRegistry] = [localRegistry],
        };
        var dockerIo = settings.MirrorUrls.Concat(settings.RegistryMirrors.GetValueOrDefault("docker.io") ?? []).Distinct(StringComparer.Ordinal).ToList();
        if (dockerIo.Count > 0)
        {
            result["docker.io"] = dockerIo;
        }

        foreach (var (registry, endpoints) in settings.RegistryMirrors)
        {
            if (registry is "docker.io" or LocalRegistry || endpoints.Count == 0)
            {
                continue;
            }

            result[registry] = endpoints.Distinct(StringComparer.Ordinal).ToList();
        }

        return result;
    }
}
