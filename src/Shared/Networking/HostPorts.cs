using System.Net;
using System.Net.Sockets;
using KubeDind.Docker;

namespace KubeDind.Networking;

/// <summary>
/// Where a step publishes its ports and how this build reaches them: <paramref name="BindAddress"/> goes into the
/// engine's port bindings, <paramref name="UrlHost"/> into every URL the build uses, <paramref name="Warning"/> is
/// logged when the ports are open beyond the engine's loopback.
/// </summary>
/// <param name="CanCheckLocally">False when the ports are on another machine's (or network namespace's) addresses, so this process cannot test them.</param>
public sealed record PortPublishing(string BindAddress, string UrlHost, bool CanCheckLocally, string? Warning);

public static class HostPorts
{
    /// <summary>
    /// Security default: 127.0.0.1 unless <paramref name="setting"/> (named <paramref name="settingName"/>) says otherwise
    /// or the engine is remote (<see cref="DockerEndpoint.DefaultBindAddress"/>); either way a non-loopback address
    /// comes with a warning saying who can now reach the ports.
    /// </summary>
    public static PortPublishing Choose(DockerEndpoint engine, string? setting, string settingName, string subject)
    {
        ArgumentNullException.ThrowIfNull(engine);
        string bind;
        string? why;
        if (string.IsNullOrWhiteSpace(setting))
        {
            bind = engine.DefaultBindAddress;
            why = engine.WhyNotLoopback;
        }
        else
        {
            if (!IPAddress.TryParse(setting.Trim(), out var parsed))
            {
                throw new KubeDindException($"{subject}: {settingName} '{setting}' is not an IP address; use 127.0.0.1 (the default), or 0.0.0.0 to publish on every address.");
            }

            bind = parsed.ToString();
            why = $"{settingName} = {bind}";
        }

        string? warning = null;
        if (!DockerEndpoint.IsLoopbackName(bind))
        {
            warning = $"{subject}: ports published on {bind} of the engine's host ({why}): anyone who can reach that host can use what they serve (a registry, the Kubernetes API, services) while they run.";
        }
        else if (!engine.IsLocal && engine.HostOverride is null)
        {
            warning = $"{subject}: ports published on {bind} of a remote engine ({engine.Uri}) are reachable only on that machine, not from this build; leave {settingName} unset.";
        }

        return new PortPublishing(bind, engine.UrlHostFor(bind), engine.IsLocal && engine.HostOverride is null, warning);
    }

    /// <summary>A port on <paramref name="address"/> that nothing listens on right now.</summary>
    public static int FindFree(IPAddress? address = null)
    {
        using var listener = new TcpListener(address ?? IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>True when something already listens on <paramref name="port"/> at <paramref name="address"/>.</summary>
    public static bool IsTaken(IPAddress address, int port)
    {
        try
        {
            using var listener = new TcpListener(address, port);
            listener.Start();
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    /// <summary>
    /// True when the port is known to be taken; false when it is free or cannot be checked from here (a remote engine
    /// publishes on its own machine: the engine's own error says so at start).
    /// </summary>
    public static bool IsTaken(PortPublishing publishing, int port) =>
        publishing.CanCheckLocally && IsTaken(IPAddress.Parse(publishing.BindAddress), port);
}
