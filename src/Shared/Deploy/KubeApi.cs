using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using k8s;

namespace KubeDind.Deploy;

/// <summary>
/// Raw JSON requests through a KubernetesClient's own HTTP stack (its TLS and credentials), for the
/// only two jobs its typed API does not cover: discovery and server-side apply of any kind (CRD instances too).
/// Everything else reads built-in kinds through the typed models (<see cref="KubeCalls"/>).
/// A refused connection becomes the one-line "cluster API unreachable" error.
/// </summary>
internal sealed class KubeApi
{
    private readonly IKubernetes _client;
    private readonly HttpClient _http;

    public KubeApi(IKubernetes client)
    {
        _client = client;
        _http = client is Kubernetes concrete
            ? concrete.HttpClient
            : throw new KubeDindException("Deploy: the Kubernetes client must be a k8s.Kubernetes (generic requests go through its HTTP client).");
    }

    public Uri BaseUri => _client.BaseUri;

    public async Task<(HttpStatusCode Status, JsonNode? Body, string Text)> SendAsync(HttpMethod method, string path, string? body, string? contentType, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseUri.ToString().TrimEnd('/') + path);
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType ?? "application/json");
        }

        if (_client is Kubernetes { Credentials: { } credentials })
        {
            await credentials.ProcessHttpRequestAsync(request, cancellationToken).ConfigureAwait(false);
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw Unreachable(BaseUri, ex);
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            JsonNode? json = null;
            try
            {
                json = text.Length > 0 ? JsonNode.Parse(text) : null;
            }
            catch (System.Text.Json.JsonException)
            {
                // not JSON (a proxy's HTML error page, say): the text is still reported
            }

            return (response.StatusCode, json, text);
        }
    }

    /// <summary>GETs <paramref name="path"/> into the client's typed model <typeparamref name="T"/>; null when the server says 404.</summary>
    public async Task<T?> GetAsync<T>(string path, CancellationToken cancellationToken)
        where T : class
    {
        var (status, body, text) = await SendAsync(HttpMethod.Get, path, null, null, cancellationToken).ConfigureAwait(false);
        if (status == HttpStatusCode.NotFound)
        {
            return null;
        }

        if ((int)status >= 300)
        {
            throw new KubeDindException($"Deploy: GET {path} failed: {StatusMessage(status, body, text)}");
        }

        return KubernetesJson.Deserialize<T>(text);
    }

    public static string StatusMessage(HttpStatusCode status, JsonNode? body, string text) =>
        (string?)body?["message"] is { Length: > 0 } message ? $"{(int)status} {message}" : $"{(int)status} {text.Split('\n')[0]}";

    public static KubeDindException Unreachable(Uri baseUri, Exception ex) =>
        new($"Deploy: the cluster API at {baseUri} is unreachable ({ex.Message.Split('\n')[0]}); is the cluster still running?", ex.ToString(), ex);
}
