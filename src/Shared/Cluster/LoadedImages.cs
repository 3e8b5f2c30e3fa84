using System.Collections.Concurrent;

namespace KubeDind.Cluster;

/// <summary>An image this process imported into one node: the host image id and the manifest digest its name points at.</summary>
internal sealed record LoadedImage(string ImageId, string ManifestDigest);

/// <summary>
/// What LoadImage imported into each node's containerd in this process, so that loading the same image again needs only
/// a cheap proof that the name still points at that manifest instead of the full id check. In memory only: another
/// process (or a warm start's fresh containerd) knows nothing, and LoadImage then checks as on a first load.
/// </summary>
internal sealed class LoadedImages
{
    private readonly ConcurrentDictionary<(string ContainerId, string Reference), LoadedImage> _byNode = new();

    public LoadedImage? Find(string containerId, string reference) =>
        _byNode.TryGetValue((containerId, reference), out var loaded) ? loaded : null;

    public void Remember(string containerId, string reference, LoadedImage loaded) => _byNode[(containerId, reference)] = loaded;

    public void Forget(string containerId, string reference) => _byNode.TryRemove((containerId, reference), out _);
}
