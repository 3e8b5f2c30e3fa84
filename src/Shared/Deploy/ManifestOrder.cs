namespace KubeDind.Deploy;

/// <summary>
/// The order objects are applied in, so each finds what it refers to: Namespaces, CRDs, ServiceAccounts
/// and RBAC, ConfigMaps/Secrets (and storage), Services, workloads, then everything else (CRD instances,
/// Ingresses...). Within a rank the manifests' own order is kept.
/// </summary>
public static class ManifestOrder
{
    private static readonly string[][] Ranks =
    [
        ["Namespace"],
        ["CustomResourceDefinition"],
        ["ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"],
        ["ConfigMap", "Secret", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "LimitRange", "ResourceQuota", "PriorityClass"],
        ["Service"],
        ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Pod"],
    ];

    public static int RankOf(string kind)
    {
        for (var i = 0; i < Ranks.Length; i++)
        {
            if (Ranks[i].Contains(kind, StringComparer.Ordinal))
            {
                return i;
            }
        }

        return Ranks.Length;
    }

    public static IReadOnlyList<ManifestObject> Sort(IEnumerable<ManifestObject> objects) =>
        objects.Select((o, i) => (o, i)).OrderBy(p => RankOf(p.o.Kind)).ThenBy(p => p.i).Select(p => p.o).ToList();

    /// <summary>Kinds whose rollout <see cref="RolloutWaiter"/> waits for.</summary>
    public static bool IsWorkload(string kind) => kind is "Deployment" or "StatefulSet" or "DaemonSet" or "Job" or "Pod";
}
