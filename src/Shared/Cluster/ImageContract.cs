using System.Reflection;
using System.Text.Json;

namespace KubeDind.Cluster;

/// <summary>
/// The facts the cluster image and the core share, read from the image's own <c>/etc/kubedind/contract.json</c>
/// (embedded with the image's build context), so each is written once: the image's scripts read the same file.
/// </summary>
/// <param name="StorageServingSinceAnnotation">
/// The annotation KubeDind's storage fallback sets on its StorageClass, once it binds claims, to the time it began
/// (ISO 8601, UTC): a class restored from a saved state says nothing of this container's fallback.
/// </param>
/// <param name="ReadyzChecksSettledByRestoredState">
/// The API server's /readyz checks that only make sure the bootstrap objects exist (the RBAC roles and bindings, the
/// system priority classes): in Kubernetes 1.21 each of these post-start hooks waits a second before its first look,
/// then reads every object (later versions keep both hooks under these names). A restored state holds the objects as
/// the same k3s left them, so a warm start's API is ready without them; the storage fallback, which writes as
/// system:masters, never needs them.
/// </param>
internal sealed record ImageContract(int StatusSchemaVersion, string StateDirectory, string StatusFileName, string K3sVersionFile, string ServerNodeName, string LayerStoreDirectory, string StorageServingSinceAnnotation, IReadOnlyList<string> ReadyzChecksSettledByRestoredState)
{
    private const string ResourceName = "image/rootfs/etc/kubedind/contract.json";

    /// <summary>
    /// How the core reads every JSON document the image writes for it (this contract, the status document,
    /// <c>kubedind-layers</c>' answers): camelCase, and a missing or null field the record does not allow is an error.
    /// Declared before <see cref="Current"/>, whose initialiser reads with it.
    /// </summary>
    internal static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>The contract of the image this KubeDind builds.</summary>
    public static ImageContract Current { get; } = Load();

    /// <summary>Where the image's status document is inside the container.</summary>
    public string StatusDocument => $"{StateDirectory}/{StatusFileName}";

    private static ImageContract Load()
    {
        using var stream = typeof(ImageContract).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"{ResourceName} is not embedded in {typeof(ImageContract).Assembly.GetName().Name}: the package is broken, reinstall it.");
        return JsonSerializer.Deserialize<ImageContract>(stream, JsonOptions) ?? throw new InvalidOperationException($"{ResourceName} is empty: the package is broken, reinstall it.");
    }
}
