using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using k8s;
using KubeDind.Logging;

namespace KubeDind.Deploy;

/// <summary>
/// Reaches a Service from the host for system tests: through the host port the cluster published for a
/// NodePort (or an externalIPs port) when there is one, otherwise through a port-forward via the API to
/// a ready pod behind the Service, served on 127.0.0.1.
/// </summary>
public sealed class ServiceAccess
{
    private readonly IKubernetes _client;
    private readonly KubeApi _api;
    private readonly IReadOnlyDictionary<int, int> _publishedPorts;
    private readonly string _host;
    private readonly IKubeDindLog _log;

    /// <param name="publishedPorts">Node ports (and externalIPs ports) → the host ports the cluster published for them at start.</param>
    /// <param name="host">Host name or address those published ports listen on.</param>
    public ServiceAccess(IKubernetes client, IReadOnlyDictionary<int, int>? publishedPorts = null, string host = "127.0.0.1", IKubeDindLog? log = null)
    {
        _client = client;
        _api = new KubeApi(client);
        _publishedPorts = publishedPorts ?? new Dictionary<int, int>();
        _host = host;
        _log = log ?? NullKubeDindLog.Instance;
    }

    /// <summary>A host URL for <paramref name="port"/> (number or name) of Service <paramref name="service"/>. Dispose it to stop a port-forward.</summary>
    public async Task<ServiceEndpoint> OpenAsync(string service, string port, string @namespace = "default", string scheme = "http", TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var svc = await _api.GetAsync($"/api/v1/namespaces/{Uri.EscapeDataString(@namespace)}/services/{Uri.EscapeDataString(service)}", cancellationToken).ConfigureAwait(false)
            ?? throw new KubeDindException($"Service {@namespace}/{service} does not exist; deploy it first or fix the name.");
        var ports = (svc["spec"]?["ports"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var servicePort = ports.FirstOrDefault(p => (string?)p["name"] == port || p["port"]?.ToString() == port)
            ?? throw new KubeDindException($"Service {@namespace}/{service} has no port '{port}' (it has {string.Join(", ", ports.Select(p => $"{p["name"]}:{p["port"]}"))}); use one of those.");

        var nodePort = (int?)WorkloadChecks.Int(servicePort, "nodePort");
        if (nodePort is > 0 && _publishedPorts.TryGetValue(nodePort.Value, out var hostPort))
        {
            return new ServiceEndpoint(new Uri($"{scheme}://{_host}:{hostPort}/"), $"node port {nodePort} published on host port {hostPort}", null);
        }

        var number = (int)WorkloadChecks.Int(servicePort, "port");
        if (svc["spec"]?["externalIPs"] is JsonArray { Count: > 0 } && _publishedPorts.TryGetValue(number, out var externalHostPort))
        {
            return new ServiceEndpoint(new Uri($"{scheme}://{_host}:{externalHostPort}/"), $"external IP port {number} published on host port {externalHostPort}", null);
        }

        var (pod, targetPort) = await FindReadyPodAsync(svc, servicePort, @namespace, limit, cancellationToken).ConfigureAwait(false);
        var forwarder = PortForwarder.Start(_client, pod, @namespace, targetPort, _log);
        _log.Info($"Service {@namespace}/{service}:{port} forwarded from 127.0.0.1:{forwarder.LocalPort} to pod {pod}:{targetPort}");
        return new ServiceEndpoint(new Uri($"{scheme}://127.0.0.1:{forwarder.LocalPort}/"), $"port-forward to pod {pod}:{targetPort}", forwarder);
    }

    private async Task<(string Pod, int Port)> FindReadyPodAsync(JsonNode svc, JsonObject servicePort, string @namespace, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var name = (string?)svc["metadata"]?["name"];
        var selector = svc["spec"]?["selector"] as JsonObject;
        if (selector is not { Count: > 0 })
        {
            throw new KubeDindException($"Service {@namespace}/{name} has no selector, so no pod to port-forward to; publish it as a NodePort instead.");
        }

        var labels = string.Join(',', selector.Select(kv => $"{kv.Key}={kv.Value}"));
        var deadline = DateTime.UtcNow + timeout;
        string seen = "no pods";
        while (true)
        {
            var list = await _api.GetAsync($"/api/v1/namespaces/{Uri.EscapeDataString(@namespace)}/pods?labelSelector={Uri.EscapeDataString(labels)}", cancellationToken).ConfigureAwait(false);
            var pods = (list?["items"] as JsonArray ?? []).OfType<JsonNode>().ToList();
            var ready = pods.FirstOrDefault(p => (string?)p["metadata"]?["deletionTimestamp"] is null
                && WorkloadChecks.Condition(p, "Ready") is { } c && (string?)c["status"] == "True");
            if (ready is not null)
            {
                return (PodStates.Name(ready), TargetPort(ready, servicePort));
            }

            seen = pods.Count == 0 ? "no pods" : $"{pods.Count} pods, none ready";
            if (DateTime.UtcNow >= deadline)
            {
                throw new KubeDindException($"Service {@namespace}/{name}: no ready pod matches {labels} after {timeout.TotalSeconds:0}s ({seen}); check the deploy's rollout.");
            }

            await Task.Delay(500, cancellationToken).ConfigureAwait(false);
        }
    }

    private static int TargetPort(JsonNode pod, JsonObject servicePort)
    {
        var target = servicePort["targetPort"];
        if (target is JsonValue v && v.TryGetValue<string>(out var portName))
        {
            var named = (pod["spec"]?["containers"] as JsonArray ?? []).OfType<JsonObject>()
                .SelectMany(c => c["ports"] as JsonArray ?? []).OfType<JsonObject>()
                .FirstOrDefault(p => (string?)p["name"] == portName);
            if (named is not null)
            {
                return (int)WorkloadChecks.Int(named, "containerPort");
            }

            if (int.TryParse(portName, out var numeric))
            {
                return numeric;
            }

            throw new KubeDindException($"Pod {PodStates.Name(pod)} has no container port named '{portName}' (the Service's targetPort); fix the Service or the pod template.");
        }

        return target is null ? (int)WorkloadChecks.Int(servicePort, "port") : (int)WorkloadChecks.Int(servicePort, "targetPort");
    }
}

/// <summary>A host URL for a Service port; disposing it stops the port-forward behind it, if any.</summary>
public sealed class ServiceEndpoint : IAsyncDisposable
{
    private readonly PortForwarder? _forwarder;

    internal ServiceEndpoint(Uri url, string via, PortForwarder? forwarder)
    {
        Url = url;
        Via = via;
        _forwarder = forwarder;
    }

    public Uri Url { get; }

    /// <summary>How the URL reaches the Service ("node port 30080 published on host port 41234", "port-forward to pod web-1:8080").</summary>
    public string Via { get; }

    public ValueTask DisposeAsync() => _forwarder?.DisposeAsync() ?? ValueTask.CompletedTask;

    public override string ToString() => $"{Url} ({Via})";
}

/// <summary>Listens on 127.0.0.1 and carries each accepted connection over its own API port-forward WebSocket.</summary>
internal sealed class PortForwarder : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    private PortForwarder(IKubernetes client, string pod, string @namespace, int port, IKubeDindLog log)
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _acceptLoop = AcceptAsync(client, pod, @namespace, port, log, _stop.Token);
    }

    public int LocalPort => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static PortForwarder Start(IKubernetes client, string pod, string @namespace, int port, IKubeDindLog log) => new(client, pod, @namespace, port, log);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // stopping
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync(IKubernetes client, string pod, string @namespace, int port, IKubeDindLog log, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var socket = await _listener.AcceptSocketAsync(cancellationToken).ConfigureAwait(false);
            _ = Task.Run(() => ForwardAsync(client, socket, pod, @namespace, port, log, cancellationToken), CancellationToken.None);
        }
    }

    private static async Task ForwardAsync(IKubernetes client, Socket socket, string pod, string @namespace, int port, IKubeDindLog log, CancellationToken cancellationToken)
    {
        using (socket)
        {
            try
            {
                using var webSocket = await client.WebSocketNamespacedPodPortForwardAsync(pod, @namespace, [port], "v4.channel.k8s.io", cancellationToken: cancellationToken).ConfigureAwait(false);
                using var demuxer = new StreamDemuxer(webSocket, StreamType.PortForward);
                demuxer.Start();
                using var remote = demuxer.GetStream((byte?)0, (byte?)0);
                await using var local = new NetworkStream(socket, ownsSocket: false);
                using var done = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var up = local.CopyToAsync(remote, done.Token);
                var down = remote.CopyToAsync(local, done.Token);
                await Task.WhenAny(up, down).ConfigureAwait(false);
                await done.CancelAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                log.Warn($"port-forward to {@namespace}/{pod}:{port}: {ex.Message.Split('\n')[0]}");
            }
            catch (OperationCanceledException)
            {
                // the endpoint was disposed or the connection ended
            }
        }
    }
}
