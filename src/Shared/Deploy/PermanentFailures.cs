using k8s;
using k8s.Models;

namespace KubeDind.Deploy;

/// <summary>A reason a pod will not start that waiting cannot fix; <see cref="Lasting"/> ones are only final once they have held a while.</summary>
internal sealed record PermanentFailure(string Cause, bool Lasting);

/// <summary>
/// The table of states that do not resolve by waiting, so the rollout wait fails fast on them:
/// <list type="table">
/// <item><term>at once</term><description>a container waiting on ImagePullBackOff / ErrImagePull (image not found, pull refused as
/// unauthorized, registry unreachable), InvalidImageName, ErrImageNeverPull, CrashLoopBackOff, CreateContainerConfigError (an env
/// reference to a missing ConfigMap, Secret or key), CreateContainerError, RunContainerError;</description></item>
/// <item><term>once it held for <see cref="DeploySettings.FailFastAfter"/></term><description>a pending pod that mounts a ConfigMap or
/// Secret that does not exist (not optional); a PersistentVolumeClaim it uses that does not exist, that names a StorageClass that does
/// not exist, or that names none while the cluster has no default StorageClass and no PersistentVolume it could bind to; a
/// workload with no pod at all whose pods name a ServiceAccount that does not exist.</description></item>
/// </list>
/// The lasting ones wait a little because something (a controller, a test's own setup) may still be creating what is missing.
/// </summary>
internal sealed class PermanentFailures
{
    private readonly IKubernetes _client;

    public PermanentFailures(IKubernetes client) => _client = client;

    public async Task<PermanentFailure?> FindAsync(V1Pod pod, CancellationToken cancellationToken)
    {
        if (PodStates.HardFailure(pod) is { } failure)
        {
            return new PermanentFailure($"pod {PodStates.Name(pod)}: container {failure.Container} is {failure.Reason}" + (failure.Message is { Length: > 0 } m ? $" ({m.Split('\n')[0]})" : string.Empty), false);
        }

        if (pod.Status?.Phase is not (null or "Pending") || pod.Spec?.Volumes is not { Count: > 0 } volumes)
        {
            return null;
        }

        var ns = PodStates.Namespace(pod);
        foreach (var volume in volumes)
        {
            var cause = volume switch
            {
                { PersistentVolumeClaim: { } claim } => await CheckClaimAsync(ns, claim.ClaimName, volume.Name, cancellationToken).ConfigureAwait(false),
                { ConfigMap: { Optional: not true } configMap } => await MissingConfigMapAsync(ns, configMap.Name, volume.Name, cancellationToken).ConfigureAwait(false),
                { Secret: { Optional: not true } secret } => await MissingSecretAsync(ns, secret.SecretName, volume.Name, cancellationToken).ConfigureAwait(false),
                _ => await CheckProjectedAsync(ns, volume, cancellationToken).ConfigureAwait(false),
            };
            if (cause is not null)
            {
                return new PermanentFailure(cause, true);
            }
        }

        return null;
    }

    /// <summary>
    /// Why a workload's controller can make no pod at all: the ServiceAccount its pods name does not exist (the API
    /// refuses every such pod). Lasting, like a missing ConfigMap: a test's own setup may still be creating it.
    /// "default" is left out: a new namespace gets it from the controller manager a moment after it is made.
    /// </summary>
    public async Task<PermanentFailure?> FindForNoPodsAsync(string ns, V1PodSpec? podSpec, CancellationToken cancellationToken)
    {
        var account = podSpec?.ServiceAccountName is { Length: > 0 } named ? named : podSpec?.ServiceAccount;
        if (string.IsNullOrEmpty(account) || account == "default")
        {
            return null;
        }

        var found = await _client.ReadOrNullAsync($"Deploy: reading ServiceAccount {ns}/{account}", c => c.CoreV1.ReadNamespacedServiceAccountAsync(account, ns, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return found is null
            ? new PermanentFailure($"ServiceAccount {ns}/{account} (its pods' serviceAccountName) does not exist, so no pod can be created; add it to the manifests or fix the name", true)
            : null;
    }

    private async Task<string?> CheckProjectedAsync(string ns, V1Volume volume, CancellationToken cancellationToken)
    {
        foreach (var source in volume.Projected?.Sources ?? [])
        {
            var cause = source switch
            {
                { ConfigMap: { Optional: not true } configMap } => await MissingConfigMapAsync(ns, configMap.Name, volume.Name, cancellationToken).ConfigureAwait(false),
                { Secret: { Optional: not true } secret } => await MissingSecretAsync(ns, secret.Name, volume.Name, cancellationToken).ConfigureAwait(false),
                _ => null,
            };
            if (cause is not null)
            {
                return cause;
            }
        }

        return null;
    }

    private async Task<string?> MissingConfigMapAsync(string ns, string? name, string volume, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }

        var found = await _client.ReadOrNullAsync($"Deploy: reading ConfigMap {ns}/{name}", c => c.CoreV1.ReadNamespacedConfigMapAsync(name, ns, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return found is null ? $"ConfigMap {ns}/{name} (mounted as volume {volume}) does not exist; add it to the manifests or mark the volume optional" : null;
    }

    private async Task<string?> MissingSecretAsync(string ns, string? name, string volume, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }

        var found = await _client.ReadOrNullAsync($"Deploy: reading Secret {ns}/{name}", c => c.CoreV1.ReadNamespacedSecretAsync(name, ns, cancellationToken: cancellationToken)).ConfigureAwait(false);
        return found is null ? $"Secret {ns}/{name} (mounted as volume {volume}) does not exist; add it to the manifests or mark the volume optional" : null;
    }

    private async Task<string?> CheckClaimAsync(string ns, string claimName, string volume, CancellationToken cancellationToken)
    {
        var claim = await _client.ReadOrNullAsync($"Deploy: reading PersistentVolumeClaim {ns}/{claimName}", c => c.CoreV1.ReadNamespacedPersistentVolumeClaimAsync(claimName, ns, cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (claim is null)
        {
            return $"PersistentVolumeClaim {ns}/{claimName} (volume {volume}) does not exist; add it to the manifests";
        }

        if (claim.Status?.Phase == "Bound")
        {
            return null;
        }

        var classes = await _client.CallAsync("Deploy: listing StorageClasses", c => c.StorageV1.ListStorageClassAsync(cancellationToken: cancellationToken)).ConfigureAwait(false);
        var known = classes.Items.Select(s => s.Metadata.Name).ToList();
        var have = known.Count == 0 ? "the cluster has none" : $"the cluster has {string.Join(", ", known)}";
        var className = claim.Spec?.StorageClassName;
        if (!string.IsNullOrEmpty(className))
        {
            return known.Contains(className, StringComparer.Ordinal)
                ? null
                : $"PersistentVolumeClaim {ns}/{claimName} asks for StorageClass {className}, which does not exist ({have}); fix storageClassName";
        }

        if (className is null && classes.Items.Any(IsDefault))
        {
            return null; // the default class's provisioner is (still) at work
        }

        var volumes = await _client.CallAsync("Deploy: listing PersistentVolumes", c => c.CoreV1.ListPersistentVolumeAsync(cancellationToken: cancellationToken)).ConfigureAwait(false);
        if (volumes.Items.Any(pv => pv.Status?.Phase == "Available" && string.IsNullOrEmpty(pv.Spec?.StorageClassName)))
        {
            return null;
        }

        return className is null
            ? $"PersistentVolumeClaim {ns}/{claimName} names no StorageClass and the cluster has no default StorageClass nor a PersistentVolume to bind it to ({have}); set storageClassName or create a PersistentVolume"
            : $"PersistentVolumeClaim {ns}/{claimName} has storageClassName \"\" (pre-made volumes only) and no PersistentVolume is available to bind it to; create one or name a StorageClass ({have})";
    }

    private static bool IsDefault(V1StorageClass storageClass) =>
        storageClass.Metadata?.Annotations is { } annotations
        && (annotations.TryGetValue("storageclass.kubernetes.io/is-default-class", out var value) || annotations.TryGetValue("storageclass.beta.kubernetes.io/is-default-class", out value))
        && value == "true";
}
