using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;

namespace KubeDind.Mirror;

/// <summary>What one registry's mirror did in a time window.</summary>
/// <param name="NotServed">Images asked for that the mirror answered "manifest unknown", as registry/repository:tag (or @digest).</param>
public sealed record MirrorRegistryUsage(
    string Registry,
    string Mirror,
    string Upstream,
    bool CacheOnly,
    int BlobsFromUpstream,
    long BytesFromUpstream,
    int BlobsFromCache,
    long BytesFromCache,
    IReadOnlyList<string> NotServed)
{
    /// <summary>One line per image the mirror could not serve, saying why and what to do.</summary>
    public IEnumerable<string> NotServedLines() => NotServed.Select(image => CacheOnly
        ? $"{image}: not in the cache of mirror {Mirror}, which serves its cache only because its upstream {Upstream} did not answer when the mirror started; pull it once while the upstream is reachable, or load the image into the cluster."
        : $"{image}: mirror {Mirror} could not get it from its upstream {Upstream} (manifest unknown); check the image name and tag.");
}

/// <summary>What the mirror's caches did since <see cref="Since"/>, per registry.</summary>
public sealed record MirrorUsage(DateTimeOffset Since, IReadOnlyList<MirrorRegistryUsage> Registries)
{
    public long BytesFromUpstream => Registries.Sum(r => r.BytesFromUpstream);

    public long BytesFromCache => Registries.Sum(r => r.BytesFromCache);

    public MirrorRegistryUsage? Find(string registry) =>
        Registries.FirstOrDefault(r => string.Equals(r.Registry, KubeDindMirror.NormaliseRegistry(registry), StringComparison.OrdinalIgnoreCase));

    /// <summary>Every image a mirror could not serve, one line each.</summary>
    public IReadOnlyList<string> NotServedLines() => [.. Registries.SelectMany(r => r.NotServedLines())];

    public override string ToString() => string.Join(
        "; ",
        Registries.Where(r => r.BlobsFromUpstream + r.BlobsFromCache > 0 || r.NotServed.Count > 0).Select(r =>
            $"{r.Registry}: {r.BlobsFromUpstream} blobs ({r.BytesFromUpstream} bytes) from upstream, {r.BlobsFromCache} blobs ({r.BytesFromCache} bytes) from cache"
            + (r.NotServed.Count > 0 ? $", {r.NotServed.Count} not served" : string.Empty))
        .DefaultIfEmpty("nothing pulled through the mirror"));
}

/// <summary>
/// Counts from registry 2.8's own JSON log: each blob response ("response completed", GET .../blobs/sha256:..., status
/// 200, http.response.written bytes) is from the cache unless the proxy fetched that blob from its upstream in the
/// same window, which it logs as "Adding new scheduler entry for repo@digest" when it stores it.
/// </summary>
internal static class MirrorUsageReader
{
    public static async Task<MirrorUsage> ReadAsync(IDockerClient docker, KubeDindMirror mirror, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var usages = new List<MirrorRegistryUsage>();
        foreach (var registry in mirror.Registries)
        {
            var log = await LogSinceAsync(docker, registry.ContainerId, since, cancellationToken).ConfigureAwait(false);
            usages.Add(Count(registry, log, since));
        }

        return new MirrorUsage(since, usages);
    }

    internal static MirrorRegistryUsage Count(MirrorEndpoints registry, string log, DateTimeOffset since)
    {
        var entries = log.Split('\n').Select(Parse).OfType<RegistryLogEntry>().Where(e => !(e.At < since)).ToList();
        var fetched = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            if (entry.Message?.StartsWith(SchedulerEntry, StringComparison.Ordinal) == true)
            {
                var reference = entry.Message[SchedulerEntry.Length..].Split(' ')[0];
                var at = reference.IndexOf('@', StringComparison.Ordinal);
                if (at > 0)
                {
                    fetched.Add(reference[(at + 1)..]);
                }
            }
        }

        int upstreamBlobs = 0, cacheBlobs = 0;
        long upstreamBytes = 0, cacheBytes = 0;
        var notServed = new List<string>();
        foreach (var entry in entries)
        {
            if (entry.Message?.StartsWith("response completed", StringComparison.Ordinal) != true
                || entry.RequestUri is not { } requestUri || !requestUri.StartsWith("/v2/", StringComparison.Ordinal))
            {
                continue;
            }

            // containerd asks a mirror for "/v2/...?ns=quay.io"; the digest and repository are in the path alone.
            var uri = requestUri.Split('?', 2)[0];
            var blobs = uri.LastIndexOf("/blobs/", StringComparison.Ordinal);
            var manifests = uri.LastIndexOf("/manifests/", StringComparison.Ordinal);
            if (blobs > 0 && entry.Method == "GET" && entry.Status == 200)
            {
                var digest = uri[(blobs + "/blobs/".Length)..];
                var bytes = entry.Written ?? 0;
                if (fetched.Remove(digest))
                {
                    upstreamBlobs++;
                    upstreamBytes += bytes;
                }
                else
                {
                    cacheBlobs++;
                    cacheBytes += bytes;
                }
            }
            else if (manifests > 0 && entry.Status == 404)
            {
                var repository = uri["/v2/".Length..manifests];
                var reference = uri[(manifests + "/manifests/".Length)..];
                var image = $"{registry.Registry}/{repository}{(reference.Contains(':', StringComparison.Ordinal) ? "@" : ":")}{reference}";
                if (!notServed.Contains(image))
                {
                    notServed.Add(image);
                }
            }
        }

        return new MirrorRegistryUsage(registry.Registry, registry.Name, registry.Upstream, registry.CacheOnly, upstreamBlobs, upstreamBytes, cacheBlobs, cacheBytes, notServed);
    }

    private const string SchedulerEntry = "Adding new scheduler entry for ";

    /// <summary>
    /// One line of the registry's JSON log (<see cref="MirrorImage.LogFormatterVariable"/>), or null for the other
    /// lines it writes: the plain access log of each request, and anything that is not one JSON object.
    /// </summary>
    internal static RegistryLogEntry? Parse(string line)
    {
        if (!line.StartsWith('{'))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(line, RegistryLogJson.Default.RegistryLogEntry);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task<string> LogSinceAsync(IDockerClient docker, string containerId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        try
        {
            var seconds = since.ToUnixTimeMilliseconds() / 1000.0;
            using var stream = await docker.Containers.GetContainerLogsAsync(
                containerId,
                tty: false,
                new ContainerLogsParameters { ShowStdout = true, ShowStderr = true, Since = seconds.ToString("0.000", CultureInfo.InvariantCulture) },
                cancellationToken).ConfigureAwait(false);
            var (stdout, stderr) = await stream.ReadOutputToEndAsync(cancellationToken).ConfigureAwait(false);
            return stdout + "\n" + stderr;
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"mirror container {containerId[..Math.Min(12, containerId.Length)]}: its log cannot be read ({DockerEngine.FirstLine(ex)}); was it removed? Start the mirror again.", inner: ex);
        }
    }
}

/// <summary>The fields of a registry 2.8 JSON log line that <see cref="MirrorUsageReader"/> counts with.</summary>
internal sealed record RegistryLogEntry(
    [property: JsonPropertyName("time")] DateTimeOffset? At,
    [property: JsonPropertyName("msg")] string? Message,
    [property: JsonPropertyName("http.request.method")] string? Method,
    [property: JsonPropertyName("http.request.uri")] string? RequestUri,
    [property: JsonPropertyName("http.response.status")] int? Status,
    [property: JsonPropertyName("http.response.written")] long? Written);

[JsonSerializable(typeof(RegistryLogEntry))]
internal sealed partial class RegistryLogJson : JsonSerializerContext;
