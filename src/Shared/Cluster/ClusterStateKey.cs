using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace KubeDind.Cluster;

/// <summary>
/// What a saved cluster state depends on: a state bootstrapped with other inputs must not be reused. Each part is
/// named, so a cold start can say which input changed. <see cref="Hash"/> names the state on its volume.
/// </summary>
/// <param name="Parts">Input name → value, in a fixed order.</param>
public sealed record ClusterStateKey(IReadOnlyList<KeyValuePair<string, string>> Parts)
{
    /// <summary>Raised when what is saved, or how, changes: states of another format are never restored.</summary>
    public const string Format = "2";

    /// <summary>The first 16 hex digits of the SHA-256 of every part.</summary>
    public string Hash
    {
        get
        {
            var text = string.Join('\n', Parts.Select(p => $"{p.Key}={p.Value}"));
            return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();
        }
    }

    /// <summary>
    /// The key of a cluster started with <paramref name="settings"/> on the image <paramref name="imageId"/> (its
    /// content id, so a rebuilt image with the same tag is a new key) holding k3s <paramref name="k3sVersion"/>.
    /// </summary>
    public static ClusterStateKey For(ClusterSettings settings, string imageId, string? k3sVersion)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new ClusterStateKey(
        [
            new("format", Format),
            new("image", imageId),
            new("k3s-version", k3sVersion ?? "unknown"),
            new("k3s-args", string.Join(' ', settings.K3sArgs)),
            new("environment", string.Join(' ', settings.Environment.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key}={e.Value}"))),
            // Which packaged components run (CoreDNS, local-path storage) depends on whether their images can be pulled, through these.
            new("mirrors", string.Join(' ', settings.MirrorUrls.Concat(settings.RegistryMirrors.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key}={string.Join(',', m.Value)}")))),
            // ... or are in the air-gap tarball, and which ones are turned on: a component a restored state deployed and this
            // start disables would stay in the datastore, its pods never Ready.
            new("components", $"traefik={settings.Traefik} servicelb={settings.ServiceLoadBalancer} airgap={AirgapIdentity(settings.AirgapImages)}"),
            new("agents", settings.Agents.ToString(CultureInfo.InvariantCulture)),
        ]);
    }

    /// <summary>The air-gap tarball's name, size and time (hashing hundreds of MB at every start would cost more than it saves).</summary>
    private static string AirgapIdentity(string? path)
    {
        if (path is null)
        {
            return "none";
        }

        var file = new FileInfo(path);
        return file.Exists
            ? string.Create(CultureInfo.InvariantCulture, $"{file.Name}:{file.Length}:{file.LastWriteTimeUtc:O}")
            : file.Name;
    }

    /// <summary>The labels a state volume carries for this key: the hash, and each part (long values as their own hash).</summary>
    public Dictionary<string, string> ToLabels()
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal) { [ClusterStateStore.KeyLabel] = Hash };
        foreach (var (name, value) in Parts)
        {
            labels[ClusterStateStore.PartLabelPrefix + name] = LabelValue(value);
        }

        return labels;
    }

    /// <summary>The parts whose values differ from those recorded in <paramref name="labels"/> (a saved state's).</summary>
    public IReadOnlyList<string> DifferencesFrom(IDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        return Parts
            .Where(p => !labels.TryGetValue(ClusterStateStore.PartLabelPrefix + p.Key, out var saved) || saved != LabelValue(p.Value))
            .Select(p => p.Key)
            .ToList();
    }

    private static string LabelValue(string value) =>
        value.Length <= 80 ? value : "sha256:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..16].ToLowerInvariant();

    public override string ToString() => string.Join(", ", Parts.Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key}={LabelValue(p.Value)}")));
}
