using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Logging;

namespace KubeDind.Docker;

/// <summary>Image look-ups, pulls and builds on one engine, each reporting progress to the log.</summary>
public sealed class ImageStore
{
    private readonly IDockerClient _docker;
    private readonly IKubeDindLog _log;

    public ImageStore(IDockerClient docker, IKubeDindLog log)
    {
        _docker = docker;
        _log = log;
    }

    public async Task<ImageInspectResponse?> InspectAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            return await _docker.Images.InspectImageAsync(image, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerImageNotFoundException)
        {
            return null;
        }
        catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<bool> ExistsAsync(string image, CancellationToken cancellationToken) =>
        await InspectAsync(image, cancellationToken).ConfigureAwait(false) is not null;

    /// <summary>
    /// Removes <paramref name="image"/> (one tag of it, when others name it too); false when the engine has no such
    /// image. Waits for the builds this process runs on the engine (see <see cref="EngineImageLock"/>); throws the
    /// engine's refusal (an image a container or a child image uses) unless <paramref name="force"/>.
    /// </summary>
    public async Task<bool> RemoveAsync(string image, bool force, CancellationToken cancellationToken)
    {
        using (await EngineImageLock.RemoveAsync(_docker, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await _docker.Images.DeleteImageAsync(image, new ImageDeleteParameters { Force = force }, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (DockerImageNotFoundException)
            {
                return false;
            }
            catch (DockerApiException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                return false;
            }
        }
    }

    /// <summary>Pulls <paramref name="image"/>; returns false (and logs one line why) when it cannot be had.</summary>
    public async Task<bool> TryPullAsync(string image, CancellationToken cancellationToken)
    {
        var (repository, tag) = ImageReference.SplitTag(image);
        var progress = new DockerProgress(_log, $"pull {image}");
        try
        {
            _log.Info($"pulling {image}");
            await _docker.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, null, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (DockerApiException ex)
        {
            _log.Info($"cannot pull {image}: {DockerEngine.FirstLine(ex)}");
            return false;
        }

        if (progress.Error is not null)
        {
            _log.Info($"cannot pull {image}: {progress.Error}");
            return false;
        }

        return await ExistsAsync(image, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Builds <paramref name="context"/> as <paramref name="tag"/>, logging each step; throws with the build's last lines on failure.</summary>
    public async Task BuildAsync(BuildContext context, string tag, IDictionary<string, string> buildArgs, IDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        var started = DateTime.UtcNow;
        _log.Info($"building image {tag}");
        var replaced = (await InspectAsync(tag, cancellationToken).ConfigureAwait(false))?.ID;
        var progress = new DockerProgress(_log, $"build {tag}");
        var built = false;
        try
        {
            using (await EngineImageLock.BuildAsync(_docker, cancellationToken).ConfigureAwait(false))
            {
                await RunBuildAsync(context, tag, buildArgs, labels, progress, cancellationToken).ConfigureAwait(false);
                built = true;
            }
        }
        finally
        {
            // A failed or cancelled build leaves the images of the steps it finished as much as a good one does.
            await RemoveLeftoversAsync(tag, progress.StepImages, built ? replaced : null).ConfigureAwait(false);
        }

        _log.Info($"built image {tag} in {(DateTime.UtcNow - started).TotalSeconds:0.0}s");
    }

    private async Task RunBuildAsync(BuildContext context, string tag, IDictionary<string, string> buildArgs, IDictionary<string, string> labels, DockerProgress progress, CancellationToken cancellationToken)
    {
        var file = await context.ToTarAsync(cancellationToken).ConfigureAwait(false);

        // The engine reports steps, not the upload: a context with a k3s binary or air-gap images is tens of MiB.
        await using (var tar = new ProgressStream(file, file.CanSeek ? file.Length : 0, _log, $"build {tag}: context"))
        {
            var parameters = new ImageBuildParameters
            {
                Tags = [tag],
                BuildArgs = new Dictionary<string, string>(buildArgs),
                Labels = new Dictionary<string, string>(labels),
                Remove = true,
                ForceRemove = true,
            };
            try
            {
                await _docker.Images.BuildImageFromDockerfileAsync(parameters, tar, null, null, progress, cancellationToken).ConfigureAwait(false);
            }
            catch (DockerApiException ex)
            {
                throw new KubeDindException($"building image {tag} failed: {DockerEngine.FirstLine(ex)}", string.Join('\n', progress.RecentLines), ex);
            }

            _log.Info($"build {tag}: context of {tar.Summary}");
        }

        if (progress.Error is not null)
        {
            throw new KubeDindException($"building image {tag} failed: {progress.Error}", string.Join('\n', progress.RecentLines));
        }
    }

    /// <summary>
    /// What a build leaves untagged on the engine: the last image of each earlier stage of a multi-stage build (the
    /// classic builder keeps them), the images of the steps a failed or cancelled build finished, and the image the
    /// tag named before when the build replaced it. Each is removed when nothing else holds it (removing an image
    /// removes its untagged parents too); the engine refuses one that a tagged image, a child image (a later build's
    /// cache) or a container still uses, and that one stays.
    /// </summary>
    private async Task RemoveLeftoversAsync(string tag, IReadOnlyList<string> stepImages, string? replaced)
    {
        var current = await InspectAsync(tag, CancellationToken.None).ConfigureAwait(false);
        var kept = current is null
            ? []
            : (await _docker.Images.GetImageHistoryAsync(tag, CancellationToken.None).ConfigureAwait(false))
                .Select(layer => layer.ID)
                .Where(id => id.StartsWith("sha256:", StringComparison.Ordinal))
                .Select(id => id["sha256:".Length..][..12])
                .ToHashSet(StringComparer.Ordinal);
        var candidates = stepImages.Where(id => !kept.Contains(id)).Distinct().Reverse().ToList();
        if (replaced is not null && !kept.Contains(replaced["sha256:".Length..][..12]))
        {
            candidates.Add(replaced);
        }

        foreach (var id in candidates)
        {
            var image = await InspectAsync(id, CancellationToken.None).ConfigureAwait(false);
            if (image is null || image.RepoTags is { Count: > 0 })
            {
                continue;
            }

            try
            {
                await RemoveAsync(id, force: false, CancellationToken.None).ConfigureAwait(false);
                _log.Debug($"build {tag}: removed the untagged image {id} it left");
            }
            catch (DockerApiException ex)
            {
                _log.Debug($"build {tag}: the untagged image {id} stays ({DockerEngine.FirstLine(ex)})");
            }
        }
    }
}
