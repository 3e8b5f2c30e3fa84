using System.Net.Http;
using KubeDind.Waiting;

namespace KubeDind.Mirror;

/// <summary>Passes when a registry answers <c>GET /v2/</c> with 200 at <see cref="BaseUrl"/> (seen from this process).</summary>
public sealed class RegistryApiGate : IReadinessGate
{
    // The registries checked here are published by the engine on this host; a proxy from HTTP_PROXY cannot reach them.
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };

    public RegistryApiGate(string baseUrl) => BaseUrl = baseUrl.TrimEnd('/');

    public string BaseUrl { get; }

    public string Name => $"registry answers GET {BaseUrl}/v2/";

    public TimeSpan? PollInterval => ReadinessWaiter.RequestPollInterval;

    public async Task<GateResult> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync(new Uri($"{BaseUrl}/v2/"), cancellationToken).ConfigureAwait(false);
            return response.IsSuccessStatusCode
                ? GateResult.Pass()
                : GateResult.NotYet($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        }
        catch (HttpRequestException ex)
        {
            return GateResult.NotYet(ex.InnerException?.Message ?? ex.Message);
        }
    }
}
