using System.Net;
using System.Net.Sockets;

namespace KubeDind.Docker;

/// <summary>
/// Where the Docker engine is, and therefore where the ports it publishes are and how this build reaches them.
/// The one place DOCKER_HOST and <see cref="HostOverrideVariable"/> are read.
/// <list type="bullet">
/// <item>A local engine (unix socket, Windows named pipe): ports are published on 127.0.0.1 and reached there.</item>
/// <item>A remote engine (tcp://docker:2375 — GitLab's docker:dind service, a VM, an ssh tunnel's far end): a port bound to
/// the engine's 127.0.0.1 is on another machine, so ports are published on 0.0.0.0 there (with a warning) and reached
/// through the engine's host name or IP taken from DOCKER_HOST.</item>
/// <item><see cref="HostOverrideVariable"/> (or the setting passed to <see cref="Resolve"/>) names the host to reach
/// published ports at when neither is right (a build container using a mounted socket of its host, NAT).</item>
/// </list>
/// </summary>
public sealed record DockerEndpoint
{
    public const string DockerHostVariable = "DOCKER_HOST";

    /// <summary>Host name or IP this build reaches the engine's published ports at, when 127.0.0.1 or DOCKER_HOST's host is wrong.</summary>
    public const string HostOverrideVariable = "KUBEDIND_HOST_OVERRIDE";

    public const string Loopback = "127.0.0.1";
    public const string AnyAddress = "0.0.0.0";

    private DockerEndpoint(Uri uri, bool isLocal, string? hostOverride, string source)
    {
        Uri = uri;
        IsLocal = isLocal;
        HostOverride = hostOverride;
        Source = source;
    }

    /// <summary>The engine's API address (unix:///var/run/docker.sock, tcp://docker:2375, ...).</summary>
    public Uri Uri { get; }

    /// <summary>True for a unix socket or named pipe: the engine's network namespace is taken to be this build's.</summary>
    public bool IsLocal { get; }

    /// <summary><see cref="HostOverrideVariable"/> or the setting, when given.</summary>
    public string? HostOverride { get; }

    /// <summary>Where <see cref="Uri"/> came from, for messages ("DOCKER_HOST", "the default socket", "the settings").</summary>
    public string Source { get; }

    /// <summary>
    /// The host name or IP this build reaches published ports at: the override, else 127.0.0.1 for a local engine,
    /// else DOCKER_HOST's host.
    /// </summary>
    public string PublishedHost => HostOverride ?? (IsLocal ? Loopback : Uri.Host.Trim('[', ']'));

    /// <summary>
    /// The address ports are published on when no setting says otherwise: 127.0.0.1 for a local engine whose ports
    /// are reached at 127.0.0.1, 0.0.0.0 otherwise (the build reaches them from another network namespace).
    /// </summary>
    public string DefaultBindAddress => IsLoopbackName(PublishedHost) ? Loopback : AnyAddress;

    /// <summary>Why <see cref="DefaultBindAddress"/> is not loopback, for the warning; null when it is.</summary>
    public string? WhyNotLoopback =>
        DefaultBindAddress == Loopback ? null
        : HostOverride is not null ? $"{HostOverrideVariable}={HostOverride} says this build reaches the engine's ports there"
        : $"the Docker engine is remote ({Uri}, from {Source}), so this build reaches its ports at {PublishedHost}";

    /// <summary>
    /// The engine named by <paramref name="endpoint"/> (else DOCKER_HOST, else the platform's default socket), with
    /// <paramref name="hostOverride"/> (else <see cref="HostOverrideVariable"/>); <paramref name="environment"/> reads
    /// variables (default: the process environment) so front ends can pass their own.
    /// </summary>
    public static DockerEndpoint Resolve(Uri? endpoint = null, string? hostOverride = null, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string source;
        if (endpoint is not null)
        {
            source = "the settings";
        }
        else if (environment(DockerHostVariable) is { } dockerHost && !string.IsNullOrWhiteSpace(dockerHost))
        {
            endpoint = ParseDockerHost(dockerHost);
            source = DockerHostVariable;
        }
        else
        {
            endpoint = OperatingSystem.IsWindows() ? new Uri("npipe://./pipe/docker_engine") : new Uri("unix:///var/run/docker.sock");
            source = "the default socket";
        }

        var isLocal = endpoint.Scheme switch
        {
            "unix" or "npipe" => true,
            "tcp" or "http" or "https" or "ssh" => false,
            _ => throw new KubeDindException($"Docker engine address '{endpoint}' (from {source}) has scheme '{endpoint.Scheme}'; use unix://, npipe://, tcp:// or ssh://."),
        };

        if (!isLocal && string.IsNullOrEmpty(endpoint.Host))
        {
            throw new KubeDindException($"Docker engine address '{endpoint}' (from {source}) names no host; write it like tcp://docker:2375.");
        }

        var overrideValue = string.IsNullOrWhiteSpace(hostOverride) ? environment(HostOverrideVariable) : hostOverride;
        overrideValue = string.IsNullOrWhiteSpace(overrideValue) ? null : overrideValue.Trim();
        if (overrideValue is not null && Uri.CheckHostName(overrideValue.Trim('[', ']')) == UriHostNameType.Unknown)
        {
            throw new KubeDindException($"{HostOverrideVariable}='{overrideValue}' is not a host name or IP address; give one like docker or 10.0.0.5, or unset it.");
        }

        return new DockerEndpoint(endpoint, isLocal, overrideValue?.Trim('[', ']'), source);
    }

    /// <summary>DOCKER_HOST as a URI; a one-line error naming the variable when it is not one.</summary>
    public static Uri ParseDockerHost(string dockerHost)
    {
        if (!Uri.TryCreate(dockerHost.Trim(), UriKind.Absolute, out var uri))
        {
            throw new KubeDindException($"DOCKER_HOST='{dockerHost}' is not a URI; set it like unix:///var/run/docker.sock or tcp://host:2375, or unset it.");
        }

        return uri;
    }

    /// <summary>
    /// The host this build uses in URLs for ports published on <paramref name="bindAddress"/>: the override, else for a
    /// specific (not 0.0.0.0/::, not loopback-on-a-remote-engine) address that address, else <see cref="PublishedHost"/>.
    /// </summary>
    public string UrlHostFor(string bindAddress)
    {
        if (HostOverride is not null || !IPAddress.TryParse(bindAddress, out var address)
            || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || (!IsLocal && IPAddress.IsLoopback(address)))
        {
            return UrlHost(PublishedHost);
        }

        return UrlHost(address.ToString());
    }

    /// <summary><paramref name="host"/> as it goes into a URL's authority (IPv6 in brackets).</summary>
    public static string UrlHost(string host) =>
        IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ip}]" : host;

    /// <summary>True for 127.0.0.0/8, ::1 and "localhost".</summary>
    public static bool IsLoopbackName(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    public override string ToString() => IsLocal ? $"local engine {Uri}" : $"remote engine {Uri} (ports reached at {PublishedHost})";
}
