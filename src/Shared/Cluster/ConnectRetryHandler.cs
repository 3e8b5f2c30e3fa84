namespace KubeDind.Cluster;

/// <summary>
/// Retries a request whose connection failed before it was sent (refused, or the TLS handshake cut off), a few
/// times with a short pause: a just-started k3s (a warm one especially, whose serving certificate gains the new
/// container's name and address) closes connections while it replaces its certificate. Nothing was sent, so
/// retrying is safe for every method.
/// </summary>
internal sealed class ConnectRetryHandler : DelegatingHandler
{
    private const int Attempts = 8;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (attempt < Attempts && ex.HttpRequestError is HttpRequestError.SecureConnectionError or HttpRequestError.ConnectionError)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
