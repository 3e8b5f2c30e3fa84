namespace KubeDind.Mirror;

// CONTRACT STUB (helper "mirror" fills in).
/// <param name="HostUrl">e.g. http://127.0.0.1:41234, for the host.</param>
/// <param name="NetworkUrl">e.g. http://kubedind-mirror:5000, for containers on <paramref name="Network"/>.</param>
public sealed record MirrorEndpoints(string ContainerId, string Name, string HostUrl, string NetworkUrl, string Network, bool Reused);
