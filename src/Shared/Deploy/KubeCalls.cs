using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;

namespace KubeDind.Deploy;

/// <summary>
/// Runs a typed KubernetesClient call and turns its failures into the project's errors: 404 → null (for reads),
/// a refused connection → "cluster API unreachable", any other status → one line with the server's message.
/// </summary>
internal static class KubeCalls
{
    public static async Task<T?> ReadOrNullAsync<T>(this IKubernetes client, string what, Func<IKubernetes, Task<T>> call)
        where T : class
    {
        try
        {
            return await call(client).ConfigureAwait(false);
        }
        catch (HttpOperationException ex) when (ex.Response?.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (HttpOperationException ex)
        {
            throw Failed(what, ex);
        }
        catch (HttpRequestException ex)
        {
            throw KubeApi.Unreachable(client.BaseUri, ex);
        }
    }

    public static async Task<T> CallAsync<T>(this IKubernetes client, string what, Func<IKubernetes, Task<T>> call)
    {
        try
        {
            return await call(client).ConfigureAwait(false);
        }
        catch (HttpOperationException ex)
        {
            throw Failed(what, ex);
        }
        catch (HttpRequestException ex)
        {
            throw KubeApi.Unreachable(client.BaseUri, ex);
        }
    }

    public static KubeDindException Failed(string what, HttpOperationException ex)
    {
        var status = ex.Response?.StatusCode ?? 0;
        var text = ex.Response?.Content ?? ex.Message;
        JsonNode? body = null;
        try
        {
            body = text.Length > 0 ? JsonNode.Parse(text) : null;
        }
        catch (System.Text.Json.JsonException)
        {
            // not JSON: the text is reported as it is
        }

        return new KubeDindException($"{what} failed: {KubeApi.StatusMessage(status, body, text)}", text, ex);
    }
}
