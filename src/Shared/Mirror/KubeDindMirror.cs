using Docker.DotNet;

namespace KubeDind.Mirror;

/// <summary>
/// What StartMirror started or reused: one mirror per upstream registry. <see cref="RegistryMirrors"/> is what a
/// cluster needs (registry host → endpoints on the shared network); <see cref="ReadUsageAsync"/> says what the
/// caches did since the mirror was started.
/// </summary>
public sealed class KubeDindMirror
{
    private readonly IDockerClient? _docker;

    /// <param name="name">The mirror's name (MirrorSettings.Name).</param>
    /// <param name="registries">One entry per mirrored registry.</param>
    /// <param name="startedAt">When StartMirror began; usage is counted from here.</param>
    /// <param name="docker">The engine the mirrors run on, for <see cref="ReadUsageAsync"/>; null for a mirror described by hand.</param>
    public KubeDindMirror(string name, IReadOnlyList<MirrorEndpoints> registries, DateTimeOffset startedAt, IDockerClient? docker = null)
    {
        ArgumentNullException.ThrowIfNull(registries);
        if (registries.Count == 0)
        {
            throw new ArgumentException("a mirror has at least one registry", nameof(registries));
        }

        Name = name;
        Registries = registries;
        StartedAt = startedAt;
        _docker = docker;
    }

    public string Name { get; }

    public IReadOnlyList<MirrorEndpoints> Registries { get; }

    public DateTimeOffset StartedAt { get; }

    /// <summary>The Docker network the mirrors are on; a cluster joins it to reach them.</summary>
    public string Network => Registries[0].Network;

    /// <summary>Registry host → mirror endpoints as containers on <see cref="Network"/> reach them (for registries.yaml).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> RegistryMirrors =>
        Registries.ToDictionary(r => r.Registry, r => (IReadOnlyList<string>)[r.NetworkUrl], StringComparer.OrdinalIgnoreCase);

    /// <summary>The registries whose upstream did not answer at start; they serve their cache only.</summary>
    public IReadOnlyList<MirrorEndpoints> CacheOnly => [.. Registries.Where(r => r.CacheOnly)];

    /// <summary>The mirror of <paramref name="registry"/> (a host like quay.io), or null when it is not mirrored.</summary>
    public MirrorEndpoints? Find(string registry) =>
        Registries.FirstOrDefault(r => string.Equals(r.Registry, NormaliseRegistry(registry), StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Per registry: blobs and bytes fetched from the upstream and served from the cache since
    /// <paramref name="since"/> (default <see cref="StartedAt"/>), and images asked for that the mirror could not
    /// serve, read from the registries' own logs.
    /// </summary>
    public Task<MirrorUsage> ReadUsageAsync(DateTimeOffset? since = null, CancellationToken cancellationToken = default)
    {
        if (_docker is null)
        {
            throw new KubeDindException($"mirror {Name}: this description was not returned by StartMirror, so its usage cannot be read; use the result of StartMirror.");
        }

        return MirrorUsageReader.ReadAsync(_docker, this, since ?? StartedAt, cancellationToken);
    }

    public override string ToString() => $"mirror {Name}: " + string.Join(", ", Registries.Select(r => $"{r.Registry} → {r.HostUrl}{(r.CacheOnly ? " (cache only)" : string.Empty)}"));

    internal static string NormaliseRegistry(string registry) =>
        registry.ToLowerInvariant() is "index.docker.io" or "registry-1.docker.io" ? "docker.io" : registry.ToLowerInvariant();
}
