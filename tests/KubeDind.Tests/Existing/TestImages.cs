using KubeDind.Docker;

namespace KubeDind.Tests.Existing;

/// <summary>Images and manifests for tests that need a workload answering HTTP (nothing can be pulled here).</summary>
public static class TestImages
{
    /// <summary>A tiny HTTP server on :8080 answering "hello from &lt;pod name&gt; on &lt;node name&gt;" (perl is in the offline base image).</summary>
    public static async Task<string> BuildPerlWebAsync(KubeDindSession session, string tag, CancellationToken ct)
    {
        var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(ct);
        const string server = """
            use IO::Socket::INET;
            $| = 1;
            my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die "listen: $!";
            while (my $c = $s->accept) { while (my $l = <$c>) { last if $l =~ /^\r?$/ } print $c "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello from $ENV{POD_NAME} on $ENV{NODE_NAME}\n"; close $c; }
            """;
        var context = new BuildContext()
            .AddText("server.pl", server)
            .AddText("Dockerfile", $"FROM {baseImage}\nCOPY server.pl /server.pl\nCMD [\"perl\", \"/server.pl\"]\n");
        await new ImageStore(session.Docker, session.Log).BuildAsync(context, tag, new Dictionary<string, string>(), KubeDindLabels.ForResource("test", session.RunId), ct);
        return tag;
    }

    /// <summary>A Deployment of <paramref name="image"/> with a ClusterIP Service "name" on port 80 (named http) → 8080; <paramref name="extraPodSpec"/> lines are indented 6 spaces.</summary>
    public static string WebManifest(string name, string image, int replicas, string? extraPodSpec = null) => """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: @NAME@}
        spec:
          replicas: @REPLICAS@
          selector: {matchLabels: {app: @NAME@}}
          template:
            metadata: {labels: {app: @NAME@}}
            spec:
        @EXTRA@
              containers:
              - name: web
                image: "@IMAGE@"
                ports: [{containerPort: 8080}]
                readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
                env:
                - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
                - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: @NAME@}
        spec:
          selector: {app: @NAME@}
          ports: [{name: http, port: 80, targetPort: 8080}]
        """
        .Replace("@NAME@", name, StringComparison.Ordinal)
        .Replace("@REPLICAS@", replicas.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("@IMAGE@", image, StringComparison.Ordinal)
        .Replace("@EXTRA@", extraPodSpec ?? string.Empty, StringComparison.Ordinal);
}
