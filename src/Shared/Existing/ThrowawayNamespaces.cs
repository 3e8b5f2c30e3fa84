using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Existing;

/// <summary>
/// Namespaces a run creates on an existing cluster. Labels (selectable) say KubeDind owns it and which run;
/// annotations (free text) say which process on which host and when, the same facts the Docker sweep reads
/// from container labels, so the same rule decides when a run died.
/// </summary>
internal sealed class ThrowawayNamespaces
{
    public const string Role = "throwaway-namespace";

    private readonly IKubernetes _client;
    private readonly IKubeDindLog _log;

    public ThrowawayNamespaces(IKubernetes client, IKubeDindLog log)
    {
        _client = client;
        _log = log;
    }

    public async Task<string> CreateAsync(string prefix, string runId, string clusterName, CancellationToken cancellationToken)
    {
        var facts = KubeDindLabels.ForResource(Role, runId);
        var name = $"{prefix}{runId}-{Guid.NewGuid().ToString("N")[..4]}".ToLowerInvariant();
        var body = new V1Namespace
        {
            Metadata = new V1ObjectMeta
            {
                Name = name,
                Labels = new Dictionary<string, string>
                {
                    [KubeDindLabels.Owner] = KubeDindLabels.OwnerValue,
                    [KubeDindLabels.Role] = Role,
                    [KubeDindLabels.RunId] = runId,
                },
                // Every owner fact Sweep judges by (host, boot id, PID namespace, PID and its start time): without the
                // boot id and PID namespace a namespace of a dead run is "not ours to judge" and is never swept.
                Annotations = new Dictionary<string, string>(OwnerIdentity.Current.Labels())
                {
                    [KubeDindLabels.Created] = facts[KubeDindLabels.Created],
                },
            },
        };
        try
        {
            await _client.CoreV1.CreateNamespaceAsync(body, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException ex)
        {
            throw new KubeDindException($"connect: cannot create the throwaway namespace {name} on {clusterName}: {(int)ex.Response.StatusCode} {ex.Response.StatusCode}; the user needs create/delete on namespaces, or set Namespace to an existing one instead.", inner: ex);
        }

        _log.Info($"connect: created namespace {name} for this run (deleted at teardown)");
        return name;
    }

    /// <summary>Deletes the namespace (its objects go with it, in the background); false when it was gone already.</summary>
    public async Task<bool> DeleteAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await _client.CoreV1.DeleteNamespaceAsync(name, new V1DeleteOptions { PropagationPolicy = "Background" }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        catch (HttpOperationException ex)
        {
            throw new KubeDindException($"cannot delete namespace {name}: {(int)ex.Response.StatusCode} {ex.Response.StatusCode}; delete it by hand (kubectl delete namespace {name}).", inner: ex);
        }
    }

    /// <summary>Deletes throwaway namespaces whose run died (owning process gone on this host) or that are older than MaxAge.</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(SweepSettings settings, string? keep, CancellationToken cancellationToken)
    {
        V1NamespaceList list;
        try
        {
            list = await _client.CoreV1.ListNamespaceAsync(labelSelector: $"{KubeDindLabels.Owner}={KubeDindLabels.OwnerValue},{KubeDindLabels.Role}={Role}", cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode == HttpStatusCode.Forbidden)
        {
            _log.Debug("sweep: listing namespaces is forbidden to this user; no throwaway namespaces swept");
            return [];
        }

        var removed = new List<string>();
        foreach (var ns in list.Items)
        {
            var name = ns.Metadata.Name;
            if (name == keep || ns.Metadata.DeletionTimestamp is not null)
            {
                continue;
            }

            var facts = new Dictionary<string, string>(ns.Metadata.Annotations ?? new Dictionary<string, string>());
            if (Sweep.WhyStale(facts, settings.MaxAge) is not { } reason)
            {
                continue;
            }

            _log.Info($"sweep: deleting namespace {name}: {reason}");
            if (await DeleteAsync(name, cancellationToken).ConfigureAwait(false))
            {
                removed.Add(name);
            }
        }

        return removed;
    }
}
