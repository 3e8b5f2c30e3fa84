using System.Net;
using System.Net.Sockets;

namespace KubeDind.Networking;

public static class HostPorts
{
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
}
