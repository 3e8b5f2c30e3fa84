using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using k8s;
using k8s.Models;
using KubeDind.Logging;
using KubeDind.Waiting;

namespace KubeDind.Deploy;

/// <summary>
/// Reaches a Service from the host for system tests: through the host port the cluster published for a
/// NodePort (or an externalIPs port) when there is one, otherwise through a port-forward via the API to
/// a ready pod behind the Service, served on 127.0.0.1.
/// </summary>
public sealed class ServiceAccess
{
    private readonly IKubernetes _client;
    private readonly IReadOnlyDictionary<int, int> _publishedPorts;
    private readonly string _host;
    private readonly IKubeDindLog _log;

    /// <param name="publishedPorts">Node ports (and externalIPs ports) → the host ports the cluster published for them at start.</param>
    /// <param name="host">Host name or address those published ports listen on.</param>
    public ServiceAccess(IKubernetes client, IReadOnlyDictionary<int, int>? publishedPorts = null, string host = "127.0.0.1", IKubeDindLog? log = null)
    {
        _client = client;
        _publishedPorts = publishedPorts ?? new Dictionary<int, int>();
        _host = host;
        _log = log ?? NullKubeDindLog.Instance;
    }

    /// <summary>A host URL for <paramref name="port"/> (number or name) of Service <paramref name="service"/>. Dispose it to stop a port-forward.</summary>
    public async Task<ServiceEndpoint> OpenAsync(string service, string port, string @namespace = "default", string scheme = "http", TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        var svc = await _client.ReadOrNullAsync($"Service {@namespace}/{service}: reading it", c => c.CoreV1.ReadNamespacedServiceAsync(service, @namespace, cancellationToken: cancellationToken)).ConfigureAwait(false)
            ?? throw new KubeDindException($"Service {@namespace}/{service} does not exist; deploy it first or fix the name.");
        var ports = svc.Spec?.Ports ?? [];
        var servicePort = ports.FirstOrDefault(p => p.Name == port || p.Port.ToString(CultureInfo.InvariantCulture) == port)
            ?? throw new KubeDindException($"Service {@namespace}/{service} has no port '{port}' (it has {string.Join(", ", ports.Select(p => $"{p.Name}:{p.Port}"))}); use one of those.");

        var subject = $"Service {@namespace}/{service}:{port}";
        var endpoint = await ChooseEndpointAsync(subject, svc, servicePort, @namespace, scheme, limit, cancellationToken).ConfigureAwait(false);
        return await AnsweringAsync(subject, endpoint, limit, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The published host port of a node port or external IP port, else a port-forward to a ready pod behind the Service.</summary>
    private async Task<ServiceEndpoint> ChooseEndpointAsync(string subject, V1Service svc, V1ServicePort servicePort, string @namespace, string scheme, TimeSpan limit, CancellationToken cancellationToken)
    {
        if (servicePort.NodePort is > 0 and var nodePort && _publishedPorts.TryGetValue(nodePort, out var hostPort))
        {
            return new ServiceEndpoint(new Uri($"{scheme}://{_host}:{hostPort}/"), $"node port {nodePort} published on host port {hostPort}", null);
        }

        var number = servicePort.Port;
        if (svc.Spec?.ExternalIPs is { Count: > 0 } && _publishedPorts.TryGetValue(number, out var externalHostPort))
        {
            return new ServiceEndpoint(new Uri($"{scheme}://{_host}:{externalHostPort}/"), $"external IP port {number} published on host port {externalHostPort}", null);
        }

        var (pod, targetPort) = await FindReadyPodAsync(svc, servicePort, @namespace, limit, cancellationToken).ConfigureAwait(false);
        var forwarder = PortForwarder.Start(_client, pod, @namespace, targetPort, _log);
        _log.Info($"{subject} forwarded from 127.0.0.1:{forwarder.LocalPort} to pod {pod}:{targetPort}");
        return new ServiceEndpoint(new Uri($"{scheme}://127.0.0.1:{forwarder.LocalPort}/"), $"port-forward to pod {pod}:{targetPort}", forwarder);
    }

    /// <summary>
    /// Returns <paramref name="endpoint"/> once something answers behind it. A published port: Docker's port proxy
    /// accepts every connection and closes it when nothing answers behind it (right after a Deploy kube-proxy may not
    /// have programmed a new node port yet), so an http endpoint is asked a HEAD request and counts as answering at its
    /// first byte back; any other (or a server that waits for its client) once the connection stays open a while, which
    /// under load takes the proxy longer than a moment to refuse. A port-forward: an http endpoint once the pod's answer
    /// to the same HEAD request comes back through the forward; any other once the kubelet connected a forward to the
    /// pod's port without reporting an error (it reports a port nothing listens on at once, on the forward's error
    /// channel, but "at once" under load can be seconds).
    /// </summary>
    private async Task<ServiceEndpoint> AnsweringAsync(string subject, ServiceEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var (host, port) = (endpoint.Url.Host, endpoint.Url.Port);
        var settle = endpoint.IsForwarded ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(2);
        var request = endpoint.Url.Scheme == "http" ? System.Text.Encoding.ASCII.GetBytes($"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n") : null;
        try
        {
            var outcome = await Poll.UntilAsync(
                $"a connection to {host}:{port} ({endpoint.Via}) that stays open",
                token => endpoint.Forwarder is { } forwarder ? forwarder.ProbeAsync(settle, request, token) : ProbeAsync(host, port, request, settle, token),
                TimeSpan.FromMilliseconds(250),
                timeout,
                cancellationToken).ConfigureAwait(false);
            outcome.ValueOrThrow(
                subject,
                $"a TCP connection to {host}:{port} ({endpoint.Via}) that is not closed at once",
                endpoint.IsForwarded
                    ? "check that the pod listens on that port (a pod without a readiness probe is Ready before its server listens)"
                    : "check that the pods behind the Service listen on its target port (kube-proxy programs a new node port within seconds)");
            if (outcome.Elapsed > settle + TimeSpan.FromMilliseconds(250))
            {
                _log.Info($"{subject}: {endpoint.Url} answers after {outcome.Elapsed.TotalSeconds:0.0}s ({endpoint.Via})");
            }

            return endpoint;
        }
        catch
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Connects, sends <paramref name="request"/> if any, then waits up to <paramref name="settle"/>: data, or no close meanwhile, means something answers.</summary>
    private static async Task<PollStep<bool>> ProbeAsync(string host, int port, byte[]? request, TimeSpan settle, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connect.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            await client.ConnectAsync(host, port, connect.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return PollStep<bool>.NotYet("connecting took longer than 3s");
        }
        catch (SocketException ex)
        {
            return PollStep<bool>.NotYet($"connecting: {ex.Message}");
        }

        using var listen = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        listen.CancelAfter(settle);
        try
        {
            if (request is not null)
            {
                await client.GetStream().WriteAsync(request, listen.Token).ConfigureAwait(false);
            }

            var read = await client.GetStream().ReadAsync(new byte[1], listen.Token).ConfigureAwait(false);
            return read > 0 ? PollStep<bool>.Finished(true, "it sent data") : PollStep<bool>.NotYet("the connection was closed at once (nothing answers behind the port yet)");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return PollStep<bool>.Finished(true, "the connection stayed open");
        }
        catch (IOException ex)
        {
            return PollStep<bool>.NotYet($"the connection was reset ({ex.InnerException?.Message ?? ex.Message})");
        }
    }

    private async Task<(string Pod, int Port)> FindReadyPodAsync(V1Service svc, V1ServicePort servicePort, string @namespace, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var name = svc.Metadata?.Name;
        if (svc.Spec?.Selector is not { Count: > 0 } selector)
        {
            throw new KubeDindException($"Service {@namespace}/{name} has no selector, so no pod to port-forward to; publish it as a NodePort instead.");
        }

        var labels = new V1LabelSelector { MatchLabels = selector };
        var found = await Poll.UntilAsync(
            $"a ready pod behind Service {@namespace}/{name}",
            async token =>
            {
                var pods = await RolloutWaiter.ListPodsAsync(_client, @namespace, labels, token).ConfigureAwait(false);
                var ready = pods.FirstOrDefault(p => p.Metadata?.DeletionTimestamp is null && PodStates.IsReady(p));
                return ready is not null
                    ? PollStep<V1Pod>.Finished(ready)
                    : PollStep<V1Pod>.NotYet(pods.Count == 0 ? "no pods" : $"{pods.Count} pods, none ready");
            },
            TimeSpan.FromMilliseconds(500),
            timeout,
            cancellationToken).ConfigureAwait(false);
        if (!found.Done)
        {
            throw new KubeDindException($"Service {@namespace}/{name}: no ready pod matches {PodStates.SelectorQuery(labels)} after {timeout.TotalSeconds:0}s ({found.LastSeen}); check the deploy's rollout.");
        }

        return (PodStates.Name(found.Value!), TargetPort(found.Value!, servicePort));
    }

    private static int TargetPort(V1Pod pod, V1ServicePort servicePort)
    {
        var target = servicePort.TargetPort?.Value;
        if (target is null)
        {
            return servicePort.Port;
        }

        if (int.TryParse(target, NumberStyles.Integer, CultureInfo.InvariantCulture, out var numeric))
        {
            return numeric;
        }

        var named = (pod.Spec?.Containers ?? []).SelectMany(c => c.Ports ?? []).FirstOrDefault(p => p.Name == target);
        return named?.ContainerPort
            ?? throw new KubeDindException($"Pod {PodStates.Name(pod)} has no container port named '{target}' (the Service's targetPort); fix the Service or the pod template.");
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

    internal bool IsForwarded => _forwarder is not null;

    internal PortForwarder? Forwarder => _forwarder;

    public ValueTask DisposeAsync() => _forwarder?.DisposeAsync() ?? ValueTask.CompletedTask;

    public override string ToString() => $"{Url} ({Via})";
}

/// <summary>Listens on 127.0.0.1 and carries each accepted connection over its own API port-forward WebSocket.</summary>
internal sealed class PortForwarder : IAsyncDisposable
{
    private readonly IKubernetes _client;
    private readonly string _pod;
    private readonly string _namespace;
    private readonly int _port;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    private PortForwarder(IKubernetes client, string pod, string @namespace, int port, IKubeDindLog log)
    {
        (_client, _pod, _namespace, _port) = (client, pod, @namespace, port);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _acceptLoop = AcceptAsync(client, pod, @namespace, port, log, _stop.Token);
    }

    public int LocalPort => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static PortForwarder Start(IKubernetes client, string pod, string @namespace, int port, IKubeDindLog log) => new(client, pod, @namespace, port, log);

    /// <summary>
    /// Opens one forward to the pod's port. With a <paramref name="request"/> (http), sends it and passes only on the
    /// pod's first bytes back: silence is no evidence, since the kubelet's refusal of a port nothing listens on can take
    /// seconds to come back through the API server on a loaded machine. Without one, listens on the error channel after
    /// the kubelet accepted the forward: for <paramref name="settle"/> or three times as long as opening the forward
    /// took, whichever is longer, and no refusal meanwhile counts as an open port.
    /// </summary>
    public async Task<PollStep<bool>> ProbeAsync(TimeSpan settle, byte[]? request, CancellationToken cancellationToken)
    {
        WebSocket socket;
        var opening = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            socket = await _client.WebSocketNamespacedPodPortForwardAsync(_pod, _namespace, [_port], "v4.channel.k8s.io", cancellationToken: cancellationToken).ConfigureAwait(false);
            settle = TimeSpan.FromTicks(Math.Max(settle.Ticks, opening.Elapsed.Ticks * 3));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return PollStep<bool>.NotYet($"opening a port-forward: {ex.Message.Split('\n')[0]}");
        }

        using (socket)
        using (var demuxer = new StreamDemuxer(socket, StreamType.PortForward))
        {
            demuxer.Start();
            using var errors = demuxer.GetStream((byte?)1, null);
            using var data = request is null ? null : demuxer.GetStream((byte?)0, (byte?)0);

            // The demuxer's streams read synchronously and ignore cancellation; disposing the demuxer ends the reads.
            var error = Task.Run(() => ReadFirstMessageAsync(errors), CancellationToken.None);
            Task<string>? answer = null;
            if (data is not null)
            {
                await data.WriteAsync(request, cancellationToken).ConfigureAwait(false);
                answer = Task.Run(() => ReadFirstMessageAsync(data), CancellationToken.None);
            }

            var settled = Task.Delay(settle, cancellationToken);
            var first = await Task.WhenAny(answer is null ? [error, settled] : [error, answer, settled]).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (first == answer)
            {
                return (await answer.ConfigureAwait(false)).Length > 0
                    ? PollStep<bool>.Finished(true, "the pod answered through the forward")
                    : PollStep<bool>.NotYet("the forwarded connection was closed without an answer");
            }

            if (first == settled)
            {
                return answer is null
                    ? PollStep<bool>.Finished(true, "the pod accepted the forwarded connection")
                    : PollStep<bool>.NotYet($"no answer to a HEAD request through the forward within {settle.TotalSeconds:0.0}s");
            }

            var text = await error.ConfigureAwait(false);
            return PollStep<bool>.NotYet(text.Length > 0 ? $"the kubelet: {text}" : "the port-forward was closed at once");
        }
    }

    /// <summary>A channel's first message (its first line), without the port number the channel starts with; empty when it closes first.</summary>
    private async Task<string> ReadFirstMessageAsync(Stream channel)
    {
        var received = new List<byte>();
        var buffer = new byte[1024];
        while (true)
        {
            var read = await channel.ReadAsync(buffer).ConfigureAwait(false);
            if (read <= 0)
            {
                break;
            }

            received.AddRange(buffer.AsSpan(0, read).ToArray());
            var skip = received.Count >= 2 && received[0] == (byte)(_port & 0xff) && received[1] == (byte)(_port >> 8) ? 2 : 0;
            if (received.Count > skip)
            {
                return System.Text.Encoding.UTF8.GetString(received.Skip(skip).ToArray()).Split('\n')[0].Trim();
            }
        }

        return string.Empty;
    }

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
