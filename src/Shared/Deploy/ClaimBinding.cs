using k8s;
using KubeDind.Logging;
using KubeDind.Waiting;
using YamlDotNet.RepresentationModel;

namespace KubeDind.Deploy;

/// <summary>The order a Deploy applies its objects in, and the claims of the same Deploy each workload mounts.</summary>
internal sealed record ClaimOrder(IReadOnlyList<ManifestObject> Manifests, IReadOnlyDictionary<ManifestObject, IReadOnlyList<(string Namespace, string Name)>> Mounts)
{
    /// <summary><paramref name="ordered"/> as it is, with no workload waiting for a claim.</summary>
    public static ClaimOrder Unchanged(IReadOnlyList<ManifestObject> ordered) => new(ordered, new Dictionary<ManifestObject, IReadOnlyList<(string Namespace, string Name)>>());
}

/// <summary>
/// Claims a Deploy applies are bound before the workloads that mount them are applied, where their StorageClass binds
/// at once (<c>volumeBindingMode: Immediate</c>, as KubeDind's storage fallback does). The scheduler fails a pod whose
/// immediate claim is not bound yet and tries it again only after its backoff (about a second, more under load),
/// while the provisioner binds the claim in a fraction of that; so those workloads go last, once their claims are
/// bound. Claims of a <c>WaitForFirstConsumer</c> class bind when their pod is scheduled, and a claim whose class is
/// unknown cannot be told: nothing waits for those.
/// </summary>
internal static class ClaimBinding
{
    /// <summary>The longest a Deploy waits for its claims to bind before it applies their workloads anyway.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// <paramref name="ordered"/> with the workloads that mount a claim applied in the same Deploy moved after the
    /// other workloads (each group in its order), so those others need not wait for the claims; and, for each of those
    /// workloads, the claims of this Deploy it mounts.
    /// </summary>
    public static ClaimOrder Order(IReadOnlyList<ManifestObject> ordered, string defaultNamespace)
    {
        HashSet<(string Namespace, string Name)> claims = [.. ordered.Where(m => m.Kind == "PersistentVolumeClaim" && m.Group.Length == 0).Select(m => (m.Namespace ?? defaultNamespace, m.Name))];
        if (claims.Count == 0)
        {
            return ClaimOrder.Unchanged(ordered);
        }

        var mounts = ordered.Where(m => ManifestOrder.IsWorkload(m.Kind))
            .Select(m => (Workload: m, Claims: (IReadOnlyList<(string Namespace, string Name)>)[.. MountedBy(m, defaultNamespace).Where(claims.Contains).Distinct()]))
            .Where(w => w.Claims.Count > 0)
            .ToDictionary(w => w.Workload, w => w.Claims);
        var firstWorkload = ordered.ToList().FindIndex(m => ManifestOrder.IsWorkload(m.Kind));
        var workloads = ordered.Skip(firstWorkload).ToList();
        return new ClaimOrder([.. ordered.Take(firstWorkload), .. workloads.Where(m => !mounts.ContainsKey(m)), .. workloads.Where(mounts.ContainsKey)], mounts);
    }

    /// <summary>The claims a workload's pods mount (its pod template's persistentVolumeClaim volumes), as (namespace, name).</summary>
    /// <remarks>
    /// Read from the manifest's YAML rather than a typed model: a manifest the server accepts but the typed model
    /// cannot read (a number given as a string, say) must not fail the Deploy over an optimisation.
    /// </remarks>
    public static IReadOnlyList<(string Namespace, string Name)> MountedBy(ManifestObject workload, string defaultNamespace)
    {
        var spec = ManifestObject.ValueOf(workload.Document, "spec");
        var podSpec = workload.Kind == "Pod" ? spec : ManifestObject.ValueOf(ManifestObject.ValueOf(spec, "template"), "spec");
        if (ManifestObject.ValueOf(podSpec, "volumes") is not YamlSequenceNode volumes)
        {
            return [];
        }

        var ns = workload.Namespace ?? defaultNamespace;
        return [.. volumes.Select(v => ManifestObject.TextOf(ManifestObject.ValueOf(v, "persistentVolumeClaim"), "claimName")).OfType<string>().Select(name => (ns, name))];
    }

    /// <summary>
    /// Waits until each claim whose StorageClass binds at once is Bound, at most <see cref="Wait"/> for all, then
    /// goes on (logging which were not): the pods then wait for their claims as they would have.
    /// </summary>
    public static async Task WaitForImmediateAsync(IKubernetes client, IReadOnlyCollection<(string Namespace, string Name)> claims, IKubeDindLog log, CancellationToken cancellationToken)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var immediate = new List<(string Namespace, string Name)>();
        var pending = new List<(string Namespace, string Name)>();
        foreach (var claim in claims)
        {
            switch (await ImmediateClaimPhaseAsync(client, claim, cancellationToken).ConfigureAwait(false))
            {
                case "Pending":
                    immediate.Add(claim);
                    pending.Add(claim);
                    break;
                case "Bound":
                    immediate.Add(claim);
                    break;
            }
        }

        if (immediate.Count == 0)
        {
            return;
        }

        // Said also when the claims were bound already: the workloads that mount them come after them either way.
        string Bound() => $"PersistentVolumeClaim {string.Join(", ", immediate.Select(c => $"{c.Namespace}/{c.Name}"))} bound after {waited.Elapsed.TotalSeconds:0.0}s; now the workloads that mount them";
        if (pending.Count == 0)
        {
            log.Info(Bound());
            return;
        }

        var names = string.Join(", ", pending.Select(c => $"{c.Namespace}/{c.Name}"));
        var outcome = await Poll.UntilAsync(
            $"PersistentVolumeClaims {names} to be bound",
            async token =>
            {
                foreach (var (ns, name) in pending)
                {
                    var live = await client.ReadOrNullAsync($"Deploy: reading PersistentVolumeClaim {ns}/{name}", c => c.CoreV1.ReadNamespacedPersistentVolumeClaimAsync(name, ns, cancellationToken: token)).ConfigureAwait(false);
                    if (live?.Status?.Phase != "Bound")
                    {
                        return PollStep<bool>.NotYet($"{ns}/{name} is {live?.Status?.Phase ?? "gone"}");
                    }
                }

                return PollStep<bool>.Finished(true);
            },
            Interval,
            Wait,
            cancellationToken).ConfigureAwait(false);
        log.Info(outcome.Done
            ? Bound()
            : $"PersistentVolumeClaim {names} not bound after {Wait.TotalSeconds:0}s ({outcome.LastSeen}); applying the workloads that mount them anyway");
    }

    /// <summary>The claim's phase when its StorageClass binds at once (null otherwise, or when it is gone or names no class).</summary>
    private static async Task<string?> ImmediateClaimPhaseAsync(IKubernetes client, (string Namespace, string Name) claim, CancellationToken cancellationToken)
    {
        var live = await client.ReadOrNullAsync($"Deploy: reading PersistentVolumeClaim {claim.Namespace}/{claim.Name}", c => c.CoreV1.ReadNamespacedPersistentVolumeClaimAsync(claim.Name, claim.Namespace, cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (live is null || string.IsNullOrEmpty(live.Spec?.StorageClassName))
        {
            return null;
        }

        var storageClass = await client.ReadOrNullAsync($"Deploy: reading StorageClass {live.Spec.StorageClassName}", c => c.StorageV1.ReadStorageClassAsync(live.Spec.StorageClassName, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return storageClass is not null && storageClass.VolumeBindingMode is null or "Immediate" ? live.Status?.Phase : null;
    }
}
