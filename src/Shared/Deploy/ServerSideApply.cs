using System.Net;
using System.Text.Json.Nodes;

namespace KubeDind.Deploy;

/// <summary>
/// Applies one object with server-side apply (PATCH, <c>application/apply-patch+yaml</c>, a field
/// manager, force), so running the same deploy again updates the objects instead of failing on
/// "already exists". The body is the manifest's YAML: the server reads it as kubectl's YAML 1.1 reader does.
/// </summary>
internal sealed class ServerSideApply
{
    private readonly KubeApi _api;
    private readonly string _fieldManager;

    public ServerSideApply(KubeApi api, string fieldManager)
    {
        _api = api;
        _fieldManager = fieldManager;
    }

    /// <summary>Applies and returns the object as the server now has it, and whether it was created (201) rather than updated.</summary>
    public async Task<(JsonNode Live, bool Created)> ApplyAsync(ManifestObject manifest, ApiResource resource, CancellationToken cancellationToken)
    {
        var path = resource.PathOf(manifest.Name, manifest.Namespace)
            + $"?fieldManager={Uri.EscapeDataString(_fieldManager)}&force=true";
        var (status, body, text) = await _api.SendAsync(HttpMethod.Patch, path, manifest.ToYaml(), "application/apply-patch+yaml", cancellationToken).ConfigureAwait(false);
        if (status is HttpStatusCode.OK or HttpStatusCode.Created && body is not null)
        {
            return (body, status == HttpStatusCode.Created);
        }

        throw new KubeDindException(
            $"Deploy: the cluster refused {manifest.DisplayName} from {manifest.Origin}: {KubeApi.StatusMessage(status, body, text)}",
            text);
    }
}
