namespace KubeDind.Mirror;

/// <summary>One registry's mirror, as StartMirror left it.</summary>
/// <param name="Registry">The registry host it mirrors (docker.io, ghcr.io, ...).</param>
/// <param name="Upstream">The upstream registry URL it caches.</param>
/// <param name="ContainerId">Its container.</param>
/// <param name="Name">Its container name, also its alias on <paramref name="Network"/>.</param>
/// <param name="HostUrl">e.g. http://127.0.0.1:41234, for the host.</param>
/// <param name="NetworkUrl">e.g. http://kubedind-mirror-docker-io:5000, for containers on <paramref name="Network"/>.</param>
/// <param name="Network">The Docker network it is on.</param>
/// <param name="Reused">True when a running container was kept as it was.</param>
/// <param name="CacheOnly">True when its upstream did not answer at start: it serves its cache and nothing else.</param>
public sealed record MirrorEndpoints(
    string Registry,
    string Upstream,
    string ContainerId,
    string Name,
    string HostUrl,
    string NetworkUrl,
    string Network,
    bool Reused,
    bool CacheOnly = false);
