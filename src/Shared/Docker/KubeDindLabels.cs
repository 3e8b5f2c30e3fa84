namespace KubeDind.Docker;

/// <summary>
/// Labels on every container, volume, network and image KubeDind creates, so that ownership checks
/// and sweeps can find them and never touch anything else.
/// </summary>
public static class KubeDindLabels
{
    public const string Owner = "io.kubedind.owner";
    public const string OwnerValue = "kubedind";
    public const string Role = "io.kubedind.role";
    public const string RunId = "io.kubedind.run-id";
    public const string OwnerPid = "io.kubedind.owner-pid";
    public const string OwnerHost = "io.kubedind.owner-host";
    public const string OwnerStart = "io.kubedind.owner-start";
    public const string OwnerBootId = "io.kubedind.owner-boot-id";
    public const string OwnerPidNamespace = "io.kubedind.owner-pid-ns";
    public const string Created = "io.kubedind.created";
    public const string SettingsHash = "io.kubedind.settings-hash";
    public const string Cluster = "io.kubedind.cluster";

    /// <summary>On the agent containers of a multi-node cluster: <c>agent-&lt;n&gt;</c> (they carry the server's <see cref="Cluster"/> and role labels too).</summary>
    public const string Node = "io.kubedind.node";
    public const string K3sVersion = "io.kubedind.k3s-version";
    public const string BuildSeconds = "io.kubedind.build-seconds";

    /// <summary>The labels that say "KubeDind made this, for this run, now".</summary>
    public static Dictionary<string, string> ForResource(string role, string runId)
    {
        var labels = new Dictionary<string, string>
        {
            [Owner] = OwnerValue,
            [Role] = role,
            [RunId] = runId,
            [Created] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in OwnerIdentity.Current.Labels())
        {
            labels[key] = value;
        }

        return labels;
    }

    /// <summary>
    /// The labels of what every run on the engine shares and keeps (the layer store, the mirrors' caches): no run's id
    /// nor owner, since no run owns it, and whatever finds what a run left behind must not count it as that run's.
    /// </summary>
    public static Dictionary<string, string> ForShared(string role) => new()
    {
        [Owner] = OwnerValue,
        [Role] = role,
        [Created] = DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
    };

    public static bool IsOwned(IDictionary<string, string>? labels) =>
        labels is not null && labels.TryGetValue(Owner, out var owner) && owner == OwnerValue;
}
