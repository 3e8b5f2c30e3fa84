using System.Text.Json;
using System.Text.Json.Serialization;

namespace KubeDind.Cluster;

/// <summary>Where the cluster container's entrypoint is: starting a component, running, failed for good, stopping.</summary>
internal enum ImagePhase
{
    Starting,
    Running,
    Failed,
    Stopping,
}

/// <summary>The entrypoint's state: its phase, the component it concerns (the one starting or failed) and why it failed.</summary>
internal sealed record ImageState(ImagePhase Phase, string? Component, string? Reason);

/// <summary>
/// The status document the cluster image writes (<see cref="Path"/>, by <c>status_write</c> in the image's
/// <c>common.sh</c>): the container's state, whether Kubernetes runs, the node's role, the components that run and the
/// k3s version the image build recorded. It is the one contract between the image and the core: a field changed on one
/// side is changed on the other, and <see cref="SchemaVersion"/> raised, so that a document of another version is
/// refused in one line instead of misread.
/// </summary>
internal sealed record ImageStatus(int SchemaVersion, string Role, bool Kubernetes, string? K3sVersion, ImageState State, IReadOnlyList<ClusterComponent> Components)
{
    /// <summary>The document's place inside the container (a tmpfs: an exec reads it, not the archive API).</summary>
    public static string Path => ImageContract.Current.StatusDocument;

    /// <summary>The only schema version this core reads.</summary>
    public static int SupportedSchemaVersion => ImageContract.Current.StatusSchemaVersion;

    private static readonly JsonSerializerOptions Json = new(ImageContract.JsonOptions)
    {
        Converters = { new JsonStringEnumConverter<ImagePhase>(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>
    /// Reads the document <paramref name="json"/> from the container of <paramref name="image"/>; throws a one-line
    /// <see cref="KubeDindException"/> when it is of another schema version or not such a document.
    /// </summary>
    public static ImageStatus Parse(string json, string image)
    {
        try
        {
            using (var document = JsonDocument.Parse(json))
            {
                var version = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("schemaVersion", out var value) && value.ValueKind == JsonValueKind.Number
                    ? value.GetInt32()
                    : (int?)null;
                if (version != SupportedSchemaVersion)
                {
                    throw new KubeDindException(
                        $"cluster image {image}: its status document {Path} has schemaVersion {version?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(none)"}, this KubeDind reads {SupportedSchemaVersion}; rebuild the cluster image with this KubeDind (ClusterImageSettings.Force) or use the KubeDind that built it.");
                }
            }

            return JsonSerializer.Deserialize<ImageStatus>(json, Json) ?? throw new JsonException("the document is null");
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException)
        {
            throw new KubeDindException($"cluster image {image}: its status document {Path} is not one this KubeDind reads ({ex.Message.Split('\n')[0]}); rebuild the cluster image with this KubeDind (ClusterImageSettings.Force).", inner: ex);
        }
    }

    /// <summary>The component of <paramref name="role"/> when the user turned it off (k3s's <c>--disable</c> in K3sArgs), else null.</summary>
    public ClusterComponent? TurnedOff(string role) => Components.FirstOrDefault(c => c.Role == role && c.TurnedOffByUser);

    /// <summary>"its dockerd died (exited with code 137)" when the entrypoint recorded a failure, else null.</summary>
    public string? Death => State.Phase == ImagePhase.Failed
        ? $"its {State.Component ?? "entrypoint"} died ({(State.Reason ?? "see its log").Split('\n')[0]})"
        : null;
}
