using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using KubeDind.Docker;

namespace KubeDind.Mirror;

/// <summary>Settings checked once, before anything is touched: every bad input is a one-line error naming it.</summary>
internal sealed record ValidMirror(string Name, IPAddress Address, string HostUrlHost, TimeSpan ReadinessTimeout, IReadOnlyList<ValidRegistry> Registries);

/// <summary>One registry's mirror, with names, port and credentials resolved.</summary>
internal sealed record ValidRegistry(string Host, string Upstream, string ContainerName, string CacheVolume, int RequestedPort, MirrorCredentials? Credentials, string? CredentialsSource);

internal static partial class MirrorValidator
{
    public static ValidMirror Validate(MirrorSettings settings, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        environment ??= Environment.GetEnvironmentVariable;
        DockerContainers.ValidateName("mirror", settings.Name);

        if (!IPAddress.TryParse(settings.HostAddress ?? DockerEndpoint.Loopback, out var address))
        {
            throw new KubeDindException($"mirror host address '{settings.HostAddress}' is not an IP address; set MirrorSettings.HostAddress like 127.0.0.1.");
        }

        if (settings.ReadinessTimeout <= TimeSpan.Zero)
        {
            throw new KubeDindException($"mirror readiness timeout {settings.ReadinessTimeout} is not positive; set MirrorSettings.ReadinessTimeout to, say, 60 seconds.");
        }

        if (settings.Registries is null || settings.Registries.Count == 0)
        {
            throw new KubeDindException("mirror: MirrorSettings.Registries is empty; name at least one registry to mirror (or leave it unset for docker.io, ghcr.io, quay.io, registry.k8s.io and gcr.io).");
        }

        var registries = settings.Registries.Select(r => ValidateRegistry(settings, r, environment)).ToList();
        Unique(registries, r => r.Host, "registry host", "MirrorSettings.Registries");
        Unique(registries, r => r.ContainerName, "container name", "MirrorRegistry.ContainerName");
        Unique(registries, r => r.CacheVolume, "cache volume", "MirrorRegistry.CacheVolume");
        Unique(registries.Where(r => r.RequestedPort != 0).ToList(), r => r.RequestedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "host port", "MirrorRegistry.HostPort");

        // What the host uses to reach a mirror published on every address.
        var urlHost = address.Equals(IPAddress.Any) ? "127.0.0.1"
            : address.Equals(IPAddress.IPv6Any) ? "[::1]"
            : address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]"
            : address.ToString();
        return new ValidMirror(settings.Name, address, urlHost, settings.ReadinessTimeout, registries);
    }

    private static ValidRegistry ValidateRegistry(MirrorSettings settings, MirrorRegistry registry, Func<string, string?> environment)
    {
        if (registry is null)
        {
            throw new KubeDindException("mirror: MirrorSettings.Registries holds a null entry; remove it.");
        }

        if (string.IsNullOrWhiteSpace(registry.Host) || !RegistryHost().IsMatch(registry.Host))
        {
            throw new KubeDindException($"mirror registry host '{registry.Host}' is not a registry host as image names carry it; write it like docker.io, ghcr.io or registry.example.com:5000 (no scheme, no path).");
        }

        if (!Uri.TryCreate(registry.UpstreamUrl, UriKind.Absolute, out var upstream)
            || (upstream.Scheme != Uri.UriSchemeHttp && upstream.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(upstream.Host)
            || !string.IsNullOrEmpty(upstream.Query)
            || !string.IsNullOrEmpty(upstream.Fragment)
            || !string.IsNullOrEmpty(upstream.UserInfo))
        {
            throw new KubeDindException($"mirror upstream URL '{registry.UpstreamUrl}' for {registry.Host} is not an absolute http(s) registry URL without credentials; set MirrorRegistry.UpstreamUrl like {MirrorSettings.DockerHub} (credentials go in MirrorRegistry.Credentials).");
        }

        if (registry.HostPort is < 0 or > 65535)
        {
            throw new KubeDindException($"mirror host port {registry.HostPort} for {registry.Host} is out of range; set MirrorRegistry.HostPort between 1 and 65535, or 0 for a free port.");
        }

        var container = settings.ContainerName(registry);
        if (!DockerContainers.IsValidName(container))
        {
            throw new KubeDindException($"mirror container name '{container}' for {registry.Host} is not a valid container name; use letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }

        var volume = settings.CacheVolume(registry);
        if (!DockerContainers.IsValidName(volume))
        {
            throw new KubeDindException($"mirror cache volume '{volume}' for {registry.Host} is not a valid volume name; use letters, digits, '.', '_' or '-', starting with a letter or digit.");
        }

        var (credentials, source) = Credentials(settings, registry, environment);
        return new ValidRegistry(
            registry.Host.ToLowerInvariant(),
            upstream.GetLeftPart(UriPartial.Path).TrimEnd('/'),
            container,
            volume,
            registry.HostPort,
            credentials,
            source);
    }

    private static (MirrorCredentials? Credentials, string? Source) Credentials(MirrorSettings settings, MirrorRegistry registry, Func<string, string?> environment)
    {
        if (registry.Credentials is { } given)
        {
            if (string.IsNullOrEmpty(given.Username) || string.IsNullOrEmpty(given.Password))
            {
                throw new KubeDindException($"mirror credentials for {registry.Host} need both a username and a password (or token); set both in MirrorRegistry.Credentials, or neither.");
            }

            return (given, "settings");
        }

        if (!settings.CredentialsFromEnvironment)
        {
            return (null, null);
        }

        var prefix = registry.CredentialsVariablePrefix;
        var username = environment($"{prefix}_USERNAME");
        var passwordVariable = $"{prefix}_PASSWORD";
        var password = environment(passwordVariable);
        if (string.IsNullOrEmpty(password))
        {
            passwordVariable = $"{prefix}_TOKEN";
            password = environment(passwordVariable);
        }

        if (string.IsNullOrEmpty(username) && string.IsNullOrEmpty(password))
        {
            return (null, null);
        }

        if (string.IsNullOrEmpty(username) || string.IsNullOrEmpty(password))
        {
            throw new KubeDindException(string.IsNullOrEmpty(username)
                ? $"mirror credentials for {registry.Host}: {passwordVariable} is set but {prefix}_USERNAME is not; set both, or neither."
                : $"mirror credentials for {registry.Host}: {prefix}_USERNAME is set but neither {prefix}_PASSWORD nor {prefix}_TOKEN is; set both, or neither.");
        }

        return (new MirrorCredentials(username, password), $"{prefix}_USERNAME and {passwordVariable}");
    }

    private static void Unique(IReadOnlyList<ValidRegistry> registries, Func<ValidRegistry, string> key, string what, string setting)
    {
        var duplicate = registries.GroupBy(key, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new KubeDindException($"mirror: {what} '{duplicate.Key}' is given to more than one registry ({string.Join(", ", duplicate.Select(r => r.Host))}); make {setting} different for each.");
        }
    }

    [GeneratedRegex(@"^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?(:[0-9]{1,5})?$")]
    private static partial Regex RegistryHost();
}
