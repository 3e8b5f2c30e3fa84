using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Cluster;

// The build half of ClusterImage: the image from the embedded context, tagged and labelled by its inputs.
public static partial class ClusterImage
{
    public static async Task<ClusterImageInfo> EnsureAsync(KubeDindSession session, ClusterImageSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(settings);
        var log = session.Log;
        var images = new ImageStore(session.Docker, log);

        var (source, k3sFile, release) = await ClusterImageInputs.CheckAsync(session, settings, cancellationToken).ConfigureAwait(false);
        var baseImage = await new BaseImage(session.Docker, log).EnsureAsync(cancellationToken).ConfigureAwait(false);
        var baseId = (await images.InspectAsync(baseImage, cancellationToken).ConfigureAwait(false))?.ID ?? baseImage;

        var context = BuildContext.FromEmbedded("image/", "mirror/");
        if (k3sFile is not null)
        {
            context.AddFile("k3s", k3sFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        if (settings.AirgapImagesTarball is { } airgap)
        {
            context.AddFile("k3s-airgap-images" + AirgapTarball.SuffixOf(airgap), airgap, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }

        // The containerd template is added on top once the k3s version is known; its text is an input all the same.
        var templates = ContainerdConfig.RenderVersion2(new ContainerdValues()) + ContainerdConfig.RenderVersion3(new ContainerdValues());
        var hash = Hash(context.ContentHash(), baseId, source + "\n" + templates);
        var tag = settings.Tag ?? TagFor(hash, source, release);
        var existing = await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false);
        if (!settings.Force && existing?.Config?.Labels is { } labels && labels.TryGetValue(ContextHashLabel, out var existingHash) && existingHash == hash)
        {
            var reused = ToInfo(tag, existing);
            log.Info($"kube-dind image: reusing {tag} ({reused.Describe()}); its context hash matches");
            return reused;
        }

        log.Info($"kube-dind image: building {tag} ({source switch { "context" when release is not null => $"k3s {release} from {k3sFile}", "context" => "k3s from " + k3sFile, _ => "no k3s: compose mode" }}) on {baseImage}");
        var watch = Stopwatch.StartNew();
        var buildLabels = new Dictionary<string, string>
        {
            [KubeDindLabels.Owner] = KubeDindLabels.OwnerValue,
            [ContextHashLabel] = hash,
        };
        try
        {
            await images.BuildAsync(context, tag, new Dictionary<string, string> { ["BASE_IMAGE"] = baseImage, ["K3S_SOURCE"] = source }, buildLabels, cancellationToken).ConfigureAwait(false);
        }
        catch (KubeDindException ex) when (OwnErrorLine(ex.Details) is { } line)
        {
            // fetch-k3s.sh states what is wrong with the k3s input in one line: that is the message.
            throw new KubeDindException($"kube-dind image: {line}", ex.Details, ex);
        }

        var version = await ReadK3sVersionAsync(session, tag, cancellationToken).ConfigureAwait(false);
        if (version != NoKubernetes)
        {
            // The version is only known once the build has run k3s --version: label it on top, with the containerd
            // configuration template in the form that version's containerd reads.
            var id = (await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false))!.ID;
            var (templateName, template) = ContainerdConfig.RenderFor(version);
            var labelContext = new BuildContext()
                .AddText("containerd/" + templateName, template)
                .AddText("Dockerfile", $"FROM {id}\nCOPY containerd/ {ContainerdConfig.ImageDirectory}/\nLABEL {KubeDindLabels.K3sVersion}=\"{version}\"\n");
            await images.BuildAsync(labelContext, tag, new Dictionary<string, string>(), buildLabels, cancellationToken).ConfigureAwait(false);
        }

        var built = (await images.InspectAsync(tag, cancellationToken).ConfigureAwait(false))!;
        var info = ToInfo(tag, built);
        log.Info($"kube-dind image: {tag} built in {watch.Elapsed.TotalSeconds:0}s: {info.Describe()}");
        return info;
    }

    private static string Hash(string contextHash, string baseId, string source)
    {
        var bytes = SHA256.HashData(Encoding.UTF8.GetBytes($"{contextHash}\n{baseId}\n{source}"));
        return Convert.ToHexString(bytes).ToLowerInvariant();
    }

    // The build stream colours stderr (ESC[91m ... ESC[0m): strip that before looking for the script's line.
    private static string? OwnErrorLine(string? details) =>
        details?.Split('\n').Select(l => System.Text.RegularExpressions.Regex.Replace(l, "\u001b\\[[0-9;]*m", string.Empty).Trim()).LastOrDefault(l => l.StartsWith("kubedind: ", StringComparison.Ordinal) && !l.StartsWith("kubedind: k3s v", StringComparison.Ordinal))?["kubedind: ".Length..];

    private static ClusterImageInfo ToInfo(string tag, ImageInspectResponse image)
    {
        var version = image.Config?.Labels is { } labels && labels.TryGetValue(KubeDindLabels.K3sVersion, out var v) && v != NoKubernetes ? v : null;
        return new ClusterImageInfo(tag, version, image.Size);
    }

    /// <summary>Reads the version file the build wrote, from a created (never started) container.</summary>
    private static async Task<string> ReadK3sVersionAsync(KubeDindSession session, string image, CancellationToken cancellationToken)
    {
        var created = await session.Docker.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Image = image,
                Name = $"kubedind-image-probe-{Guid.NewGuid():N}"[..32],
                Labels = KubeDindLabels.ForResource("image-probe", session.RunId),
                Entrypoint = ["/bin/true"],
            },
            cancellationToken).ConfigureAwait(false);
        try
        {
            if (await ContainerFiles.ReadTextAsync(session.Docker, created.ID, VersionFile, cancellationToken).ConfigureAwait(false) is { } text)
            {
                var version = text.Trim();
                return version.Length == 0 ? NoKubernetes : version;
            }

            throw new KubeDindException($"kube-dind image: {image} has no {VersionFile}; the build is incomplete: build again with Force.");
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"kube-dind image: cannot read {VersionFile} from {image}: {DockerEngine.FirstLine(ex)}", inner: ex);
        }
        finally
        {
            await session.Docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
