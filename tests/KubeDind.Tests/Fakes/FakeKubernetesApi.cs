using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using KubeDind.Networking;

namespace KubeDind.Tests.Fakes;

/// <summary>A Deployment's pod as a test states it: its status, the events the kubelet records for it, its logs.</summary>
public sealed record FakePod(V1PodStatus Status)
{
    /// <summary>Type, reason and message of each event, oldest first; FakePods.State names the pod in them.</summary>
    public IReadOnlyList<Corev1Event> Events { get; init; } = [];

    public IReadOnlyDictionary<(string Container, bool Previous), string> Logs { get; init; } = new Dictionary<(string, bool), string>();
}

/// <summary>
/// A FAKE Kubernetes API server (not a cluster): a small real HTTP server on 127.0.0.1 that speaks the real paths and
/// status shapes the deploy step uses — discovery, server-side apply, object reads, pod lists by label selector,
/// events, pod logs — so a real <see cref="k8s.Kubernetes"/> client can be pointed at it. It stores what is applied and
/// what the test puts in, and simulates nothing: pods (<see cref="PutPod"/>), events (<see cref="AddEvent"/>), logs
/// (<see cref="Logs"/>) and any object's status (<see cref="Statuses"/>) are what the test states.
/// <para>
/// Kept only for what a real k3s here cannot easily show, and for CI, which has no k3s: a small smoke of the deploy
/// path (a rollout, a crash-looping one with its bundle, bundle privacy); the wire shape of server-side apply; events
/// a server lists newest first; a rollout or CRD that never finishes, within seconds. CI has no k3s; the fail-fast
/// table is shown here from pod states a test states (FailFastTableTests; hence PersistentVolumeClaims, PersistentVolumes
/// and StorageClasses among the stored kinds), and against a real k3s in RealClusterFailFastTests and
/// RealClusterParityTests. Everything else is shown by a real k3s (those and RealClusterDeployTests; run with
/// KUBEDIND_K3S_BINARY).
/// </para>
/// </summary>
public sealed class FakeKubernetesApi : IAsyncDisposable
{
    private static readonly (string ApiVersion, string Kind, string Plural, bool Namespaced)[] Resources =
    [
        ("v1", "Namespace", "namespaces", false), ("v1", "Pod", "pods", true), ("v1", "Service", "services", true),
        ("v1", "ConfigMap", "configmaps", true), ("v1", "Secret", "secrets", true), ("v1", "Event", "events", true),
        ("v1", "Node", "nodes", false), ("v1", "Endpoints", "endpoints", true), ("apps/v1", "Deployment", "deployments", true),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "customresourcedefinitions", false),
        ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", true), ("v1", "PersistentVolume", "persistentvolumes", false),
        ("storage.k8s.io/v1", "StorageClass", "storageclasses", false),
    ];

    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly object _gate = new();
    private readonly Dictionary<string, JsonObject> _objects = new(StringComparer.Ordinal);
    private readonly List<JsonObject> _events = [];
    private int _resourceVersion = 1000;
    private DateTimeOffset _clock = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    public FakeKubernetesApi()
    {
        Port = HostPorts.FindFree();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public Uri BaseUri => new($"http://127.0.0.1:{Port}");

    /// <summary>Every request: method, path with query, content type.</summary>
    public ConcurrentQueue<(string Method, string PathAndQuery, string? ContentType)> Requests { get; } = new();

    /// <summary>(kind, name) → the status its controller gives the object (a typed model, serialized as is), e.g. a CRD's conditions; set when the object is applied.</summary>
    public Dictionary<(string Kind, string Name), object> Statuses { get; } = [];

    /// <summary>(pod, container, previous instance) → the log the API serves for it.</summary>
    public ConcurrentDictionary<(string Pod, string Container, bool Previous), string> Logs { get; } = new();

    /// <summary>A real client pointed at this fake.</summary>
    public Kubernetes CreateClient() => new(new KubernetesClientConfiguration { Host = BaseUri.ToString() });

    public IReadOnlyList<string> Applied => Requests.Where(r => r.Method == "PATCH").Select(r => r.PathAndQuery.Split('?')[0]).ToList();

    /// <summary>Stores <paramref name="pod"/> as the test states it (spec, labels, status), created at the fake's clock.</summary>
    public void PutPod(V1Pod pod)
    {
        ArgumentNullException.ThrowIfNull(pod);
        var json = JsonNode.Parse(KubernetesJson.Serialize(pod))!.AsObject();
        json["apiVersion"] = "v1";
        json["kind"] = "Pod";
        lock (_gate)
        {
            var metadata = json["metadata"]!.AsObject();
            metadata["uid"] ??= Guid.NewGuid().ToString();
            metadata["creationTimestamp"] ??= Now();
            _objects[ObjectPath("v1", "pods", pod.Metadata.NamespaceProperty, pod.Metadata.Name)] = json;
        }
    }

    /// <summary>
    /// Stores <paramref name="statedEvent"/> (its involved object and namespace as the test states them), stamped one
    /// second after the previous one. Events are listed newest first, an order a real server cannot be made to show,
    /// so the collector has to sort them.
    /// </summary>
    public void AddEvent(Corev1Event statedEvent)
    {
        ArgumentNullException.ThrowIfNull(statedEvent);
        var e = JsonNode.Parse(KubernetesJson.Serialize(statedEvent))!.AsObject();
        lock (_gate)
        {
            _clock = _clock.AddSeconds(1);
            var time = Now();
            var involved = statedEvent.InvolvedObject;
            e["apiVersion"] = "v1";
            e["kind"] = "Event";
            e["metadata"] = new JsonObject { ["name"] = $"{involved.Name}.{_events.Count:x}", ["namespace"] = involved.NamespaceProperty, ["creationTimestamp"] = time };
            e["firstTimestamp"] = time;
            e["lastTimestamp"] = time;
            e["count"] = 1;
            _events.Insert(0, e);
        }
    }

    public JsonObject? Get(string path)
    {
        lock (_gate)
        {
            return _objects.TryGetValue(path, out var o) ? (JsonObject)o.DeepClone() : null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
        {
        }

        _listener.Close();
    }

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            _ = Task.Run(() => Serve(context));
        }
    }

    private void Serve(HttpListenerContext context)
    {
        var request = context.Request;
        var path = request.Url!.AbsolutePath;
        Requests.Enqueue((request.HttpMethod, request.Url.PathAndQuery, request.ContentType));
        string body;
        using (var reader = new StreamReader(request.InputStream, Encoding.UTF8))
        {
            body = reader.ReadToEnd();
        }

        int status;
        string text;
        var contentType = "application/json";
        lock (_gate)
        {
            (status, text, contentType) = Route(request.HttpMethod, path, request.QueryString, request.ContentType, body);
        }

        var bytes = Encoding.UTF8.GetBytes(text);
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.ContentLength64 = bytes.Length;
        context.Response.OutputStream.Write(bytes);
        context.Response.Close();
    }

    private (int, string, string) Route(string method, string path, System.Collections.Specialized.NameValueCollection query, string? contentType, string body)
    {
        var segments = path.Trim('/').Split('/');
        string apiVersion;
        int rest;
        if (segments is ["api", var v, ..])
        {
            apiVersion = v;
            rest = 2;
        }
        else if (segments is ["apis", var g, var v2, ..])
        {
            apiVersion = $"{g}/{v2}";
            rest = 3;
        }
        else
        {
            return NotFound($"the server could not find the requested resource ({path})");
        }

        var tail = segments[rest..];
        if (tail.Length == 0)
        {
            return Discovery(apiVersion);
        }

        string? ns = null;
        if (tail.Length >= 3 && tail[0] == "namespaces")
        {
            ns = tail[1];
            tail = tail[2..];
        }

        var plural = tail[0];
        var name = tail.Length > 1 ? tail[1] : null;
        var sub = tail.Length > 2 ? tail[2] : null;
        var resource = Resources.FirstOrDefault(r => r.ApiVersion == apiVersion && r.Plural == plural);
        if (resource.Kind is null)
        {
            return NotFound($"the server could not find the requested resource ({path})");
        }

        if (method == "PATCH" && name is not null)
        {
            if (contentType != "application/apply-patch+yaml")
            {
                return Failure(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml (got {contentType})");
            }

            if (string.IsNullOrEmpty(query["fieldManager"]))
            {
                return Failure(400, "BadRequest", "PATCH, field manager must be set for an apply patch");
            }

            return Apply(resource, ns, name, body);
        }

        if (method != "GET")
        {
            return Failure(405, "MethodNotAllowed", $"the fake does not implement {method} {path}");
        }

        if (name is null)
        {
            var prefix = ObjectPath(resource.ApiVersion, resource.Plural, ns, string.Empty);
            IEnumerable<JsonObject> items = plural == "events"
                ? _events.Where(e => ns is null || (string?)e["metadata"]?["namespace"] == ns)
                : _objects.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal) || (ns is null && IsOfResource(kv.Key, resource))).Select(kv => kv.Value);
            if (query["labelSelector"] is { Length: > 0 } selector)
            {
                var wanted = selector.Split(',').Select(p => p.Split('=', 2)).ToList();
                items = items.Where(o => wanted.All(w => (string?)o["metadata"]?["labels"]?[w[0]] == w[1]));
            }

            var list = new JsonObject
            {
                ["kind"] = resource.Kind + "List",
                ["apiVersion"] = resource.ApiVersion,
                ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                ["items"] = new JsonArray(items.Select(i => (JsonNode)i.DeepClone()).ToArray()),
            };
            return (200, list.ToJsonString(), "application/json");
        }

        if (sub == "log")
        {
            var previous = query["previous"] == "true";
            var container = query["container"] ?? string.Empty;
            if (Logs.TryGetValue((name, container, previous), out var log))
            {
                return (200, log, "text/plain");
            }

            return Failure(400, "BadRequest", previous ? $"previous terminated container \"{container}\" in pod \"{name}\" not found" : $"container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating");
        }

        return _objects.TryGetValue(ObjectPath(resource.ApiVersion, resource.Plural, ns, name), out var found)
            ? (200, found.ToJsonString(), "application/json")
            : NotFound($"{resource.Plural}{(resource.ApiVersion.Contains('/', StringComparison.Ordinal) ? "." + resource.ApiVersion.Split('/')[0] : string.Empty)} \"{name}\" not found", "NotFound");
    }

    private static bool IsOfResource(string key, (string ApiVersion, string Kind, string Plural, bool Namespaced) resource) =>
        key.StartsWith(ObjectPath(resource.ApiVersion, string.Empty, null, string.Empty).TrimEnd('/'), StringComparison.Ordinal)
        && key.Split('/') is var parts && parts.Length >= 2 && parts[^2] == resource.Plural;

    private static string ObjectPath(string apiVersion, string plural, string? ns, string name)
    {
        var root = apiVersion.Contains('/', StringComparison.Ordinal) ? $"/apis/{apiVersion}" : $"/api/{apiVersion}";
        return ns is null ? $"{root}/{plural}/{name}" : $"{root}/namespaces/{ns}/{plural}/{name}";
    }

    private (int, string, string) Discovery(string apiVersion)
    {
        var resources = Resources.Where(r => r.ApiVersion == apiVersion).ToList();
        if (resources.Count == 0)
        {
            return NotFound("the server could not find the requested resource");
        }

        var list = new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = apiVersion,
            ["resources"] = new JsonArray(resources.SelectMany(r => new[]
            {
                new JsonObject { ["name"] = r.Plural, ["singularName"] = r.Kind.ToLowerInvariant(), ["namespaced"] = r.Namespaced, ["kind"] = r.Kind, ["verbs"] = new JsonArray("create", "delete", "get", "list", "patch", "update", "watch") },
                new JsonObject { ["name"] = r.Plural + "/status", ["singularName"] = string.Empty, ["namespaced"] = r.Namespaced, ["kind"] = r.Kind, ["verbs"] = new JsonArray("get", "patch", "update") },
            }).ToArray<JsonNode>()),
        };
        return (200, list.ToJsonString(), "application/json");
    }

    /// <summary>
    /// The apply body (YAML) as JSON, read with YamlDotNet's own scalar typing and merge keys: close enough for a
    /// fake; the real server's YAML 1.1 reading is what the real-cluster tests exercise.
    /// </summary>
    private static string YamlToJson(string yaml)
    {
        var parser = new YamlDotNet.Core.MergingParser(new YamlDotNet.Core.Parser(new StringReader(yaml)));
        var value = new YamlDotNet.Serialization.DeserializerBuilder().WithAttemptingUnquotedStringTypeDeserialization().Build().Deserialize<object>(parser);
        return new YamlDotNet.Serialization.SerializerBuilder().JsonCompatible().Build().Serialize(value!);
    }

    private (int, string, string) Apply((string ApiVersion, string Kind, string Plural, bool Namespaced) resource, string? ns, string name, string body)
    {
        JsonObject applied;
        try
        {
            applied = JsonNode.Parse(YamlToJson(body)) as JsonObject ?? throw new FormatException("not an object");
        }
        catch (Exception ex)
        {
            return Failure(400, "BadRequest", $"error decoding YAML: {ex.Message}");
        }

        if ((string?)applied["kind"] != resource.Kind || (string?)applied["apiVersion"] != resource.ApiVersion)
        {
            return Failure(400, "BadRequest", $"the kind/apiVersion of the body ({applied["kind"]} {applied["apiVersion"]}) does not match the URL ({resource.Kind} {resource.ApiVersion})");
        }

        if (resource.Namespaced && ns is not null && !_objects.ContainsKey(ObjectPath("v1", "namespaces", null, ns)) && ns != "default")
        {
            return NotFound($"namespaces \"{ns}\" not found", "NotFound");
        }

        var key = ObjectPath(resource.ApiVersion, resource.Plural, resource.Namespaced ? ns : null, name);
        var existing = _objects.GetValueOrDefault(key);
        var metadata = (JsonObject)(applied["metadata"] ??= new JsonObject());
        var generation = existing is null ? 1 : (long)existing["metadata"]!["generation"]!;
        if (existing is not null && existing["spec"]?.ToJsonString() != applied["spec"]?.ToJsonString())
        {
            generation++;
        }

        metadata["uid"] = (string?)existing?["metadata"]?["uid"] ?? Guid.NewGuid().ToString();
        metadata["generation"] = generation;
        metadata["resourceVersion"] = (++_resourceVersion).ToString(System.Globalization.CultureInfo.InvariantCulture);
        metadata["creationTimestamp"] = (string?)existing?["metadata"]?["creationTimestamp"] ?? Now();
        if (resource.Namespaced)
        {
            metadata["namespace"] = ns ?? "default";
        }

        applied["status"] = Statuses.TryGetValue((resource.Kind, name), out var status) ? JsonNode.Parse(KubernetesJson.Serialize(status)) : existing?["status"]?.DeepClone();
        _objects[key] = applied;
        return (existing is null ? 201 : 200, applied.ToJsonString(), "application/json");
    }

    private string Now() => _clock.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);

    private static (int, string, string) NotFound(string message, string reason = "NotFound") => Failure(404, reason, message);

    private static (int, string, string) Failure(int code, string reason, string message) =>
        (code, new JsonObject { ["kind"] = "Status", ["apiVersion"] = "v1", ["metadata"] = new JsonObject(), ["status"] = "Failure", ["message"] = message, ["reason"] = reason, ["code"] = code }.ToJsonString(), "application/json");
}
