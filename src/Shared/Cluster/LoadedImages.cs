using System.Collections.Concurrent;

namespace KubeDind.Cluster;

/// <summary>
/// An image this process imported into one node: the host image's id, the reference pods use and the manifest digest that
/// reference points at.
/// </summary>
internal sealed record LoadedImage(string ImageId, string Reference, string ManifestDigest);

/// <summary>
/// What LoadImage imported into each node's containerd in this process, so that loading the same image again needs only
/// a cheap proof that the name still points at that manifest instead of the full id check. In memory only: another
/// process (or a warm start's fresh containerd) knows nothing, and LoadImage then checks as on a first load.
/// </summary>
internal sealed class LoadedImages
{
    private readonly ConcurrentDictionary<(string ContainerId, string HostImage), LoadedImage> _byNode = new();

    public LoadedImage? Find(string containerId, string hostImage) =>
        _byNode.TryGetValue((containerId, hostImage), out var loaded) ? loaded : null;

    public void Remember(string containerId, string hostImage, LoadedImage loaded) => _byNode[(containerId, hostImage)] = loaded;

    public void Forget(string containerId, string hostImage) => _byNode.TryRemove((containerId, hostImage), out _);
}
