using System.Globalization;
using KubeDind.Diagnostics;
using KubeDind.Mirror;

namespace KubeDind.Cluster;

/// <summary>
/// What a kube-dind cluster says about itself in a diagnostics report: its k3s version, image, privilege, how it
/// started, which components run (k3s's or KubeDind's fallbacks), its registry mirrors and what those mirrors served.
/// </summary>
internal static class ClusterFacts
{
    /// <summary>Reading a mirror's usage means reading its container logs; a report does not wait longer than this for it.</summary>
    private static readonly TimeSpan MirrorUsageTimeout = TimeSpan.FromSeconds(10);

    public static async Task<IReadOnlyList<ClusterFact>> ReadAsync(KubeDindCluster cluster, IReadOnlyList<KubeDindMirror> mirrors, CancellationToken cancellationToken)
    {
        var facts = new List<ClusterFact>
        {
            new("k3s", cluster.KubernetesVersion ?? "none (compose mode)"),
            new("image", cluster.Image),
            new("privilege", cluster.Privilege.ToString()),
            new("start", FormattableString.Invariant($"{cluster.Timings.Start}; ready after {cluster.Timings.Ready.TotalSeconds:0.0}s")),
        };
        if (cluster.Components.Count > 0)
        {
            facts.Add(new("components", string.Join(", ", cluster.Components)));
        }

        if (cluster.Agents.Count > 0)
        {
            facts.Add(new("agents", string.Join(", ", cluster.Agents.Select(a => a.NodeName))));
        }

        var mirrorUrls = cluster.Settings.RegistryMirrors.SelectMany(m => m.Value).Concat(cluster.Settings.MirrorUrls).ToHashSet(StringComparer.OrdinalIgnoreCase);
        facts.Add(new("registry mirrors", cluster.Settings.RegistryMirrors.Count == 0 && cluster.Settings.MirrorUrls.Count == 0
            ? "none: the cluster pulls from each registry directly"
            : string.Join(", ", cluster.Settings.RegistryMirrors.Select(m => $"{m.Key} → {string.Join(" ", m.Value)}").Concat(cluster.Settings.MirrorUrls.Select(u => $"docker.io → {u}")).Distinct(StringComparer.Ordinal))));

        foreach (var mirror in mirrors.Where(m => m.Registries.Any(r => mirrorUrls.Contains(r.NetworkUrl))))
        {
            facts.Add(new($"mirror {mirror.Name}", await DescribeUsageAsync(mirror, cancellationToken).ConfigureAwait(false)));
        }

        return facts;
    }

    private static async Task<string> DescribeUsageAsync(KubeDindMirror mirror, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(MirrorUsageTimeout);
        try
        {
            var usage = await mirror.ReadUsageAsync(cancellationToken: timeout.Token).ConfigureAwait(false);
            var parts = usage.Registries.Select(r =>
                string.Create(CultureInfo.InvariantCulture, $"{r.Registry}{(r.CacheOnly ? " (cache only)" : string.Empty)}: {r.BlobsFromUpstream} blobs ({Megabytes(r.BytesFromUpstream)}) from {r.Upstream}, {r.BlobsFromCache} ({Megabytes(r.BytesFromCache)}) from the cache")
                + (r.NotServed.Count > 0 ? $"; not served: {string.Join(", ", r.NotServed)}" : string.Empty));
            return string.Join("; ", parts);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return $"usage not read: its registries' logs did not answer within {MirrorUsageTimeout.TotalSeconds:0}s";
        }
        catch (KubeDindException ex)
        {
            return $"usage not read: {ex.Message.Split('\n')[0]}";
        }
    }

    private static string Megabytes(long bytes) => FormattableString.Invariant($"{bytes / 1048576.0:0.0} MB");
}
