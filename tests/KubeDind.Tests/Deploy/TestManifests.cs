using System.Text;

namespace KubeDind.Tests.Deploy;

/// <summary>The manifests the deploy tests build inline, written once for the fake API and the real clusters alike.</summary>
internal static class TestManifests
{
    /// <summary>
    /// A readiness probe that never passes, for a container meant to crash: one that exits at once may otherwise be seen
    /// Ready first on a real cluster, and its rollout finish before the crash.
    /// </summary>
    public const string NeverReady = "readinessProbe: { exec: { command: [\"false\"] }, periodSeconds: 1 }";

    /// <summary>
    /// A one-replica Deployment <paramref name="name"/> (label <c>app: name</c>) of one container <c>app</c>.
    /// </summary>
    /// <param name="command">The container's command as a YAML flow sequence, e.g. <c>[sleep, '3600']</c>; null = the image's.</param>
    /// <param name="volumes">
    /// The pod's volumes as a YAML flow sequence, e.g. <c>[{ name: tls, secret: { secretName: web-tls } }]</c>. Mount them
    /// too (a <c>volumeMounts</c> entry in <paramref name="container"/>): a real kubelet ignores a volume no container
    /// mounts, so the pod would start without it.
    /// </param>
    /// <param name="container">More container fields, one <c>key: flow value</c> per entry (readinessProbe, resources).</param>
    public static string Deployment(string name, string image, string? command = null, string? volumes = null, params string[] container)
    {
        var yaml = new StringBuilder($"""
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: {name}
            spec:
              selector:
                matchLabels:
                  app: {name}
              template:
                metadata:
                  labels:
                    app: {name}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers:
                    - name: app
                      image: {image}

            """);
        if (command is not null)
        {
            yaml.Append("          command: ").Append(command).Append('\n');
        }

        foreach (var field in container)
        {
            yaml.Append("          ").Append(field).Append('\n');
        }

        if (volumes is not null)
        {
            yaml.Append("      volumes: ").Append(volumes).Append('\n');
        }

        return yaml.ToString();
    }
}
