using k8s.Models;

namespace KubeDind.Deploy;

/// <summary>Where the API serves a kind: its plural resource name and whether it lives in a namespace.</summary>
public sealed record ApiResource(string ApiVersion, string Kind, string Plural, bool Namespaced)
{
    /// <summary>The URL path of one object of this kind.</summary>
    public string PathOf(string name, string? @namespace)
    {
        var root = ApiVersion.Contains('/', StringComparison.Ordinal) ? $"/apis/{ApiVersion}" : $"/api/{ApiVersion}";
        var scope = Namespaced ? $"/namespaces/{Uri.EscapeDataString(@namespace ?? "default")}" : string.Empty;
        return $"{root}{scope}/{Plural}/{Uri.EscapeDataString(name)}";
    }
}

/// <summary>
/// Finds a kind's resource through discovery (<c>/api/v1</c>, <c>/apis/&lt;group&gt;/&lt;version&gt;</c>),
/// caching each group version; <see cref="Forget"/> drops the cache after CRDs were added.
/// </summary>
internal sealed class ApiDiscovery
{
    private readonly KubeApi _api;
    private readonly Dictionary<string, IReadOnlyList<ApiResource>> _groupVersions = new(StringComparer.Ordinal);

    public ApiDiscovery(KubeApi api) => _api = api;

    public void Forget(string apiVersion) => _groupVersions.Remove(apiVersion);

    /// <summary>The resource serving <paramref name="kind"/> in <paramref name="apiVersion"/>, or null when the server does not know it.</summary>
    public async Task<ApiResource?> FindAsync(string apiVersion, string kind, CancellationToken cancellationToken)
    {
        if (!_groupVersions.TryGetValue(apiVersion, out var resources))
        {
            var path = apiVersion.Contains('/', StringComparison.Ordinal) ? $"/apis/{apiVersion}" : $"/api/{apiVersion}";
            var list = await _api.GetAsync<V1APIResourceList>(path, cancellationToken).ConfigureAwait(false);
            resources = (list?.Resources ?? [])
                .Where(r => r.Name is { } name && !name.Contains('/', StringComparison.Ordinal))
                .Select(r => new ApiResource(apiVersion, r.Kind ?? string.Empty, r.Name, r.Namespaced))
                .ToList();
            if (list is not null)
            {
                _groupVersions[apiVersion] = resources;
            }
        }

        return resources.FirstOrDefault(r => string.Equals(r.Kind, kind, StringComparison.Ordinal));
    }
}
