using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Images;

/// <summary>
/// Builds an application image on the host's engine from a directory (no docker CLI), the base image filled in
/// through <see cref="KubeDindImage.BaseImageBuildArg"/>. Returns the tag.
/// </summary>
public sealed class BuildImage(KubeDindSession session)
{
    public async Task<string> RunAsync(KubeDindImage settings, CancellationToken cancellationToken)
    {
        var dockerfile = Validate(settings);
        var buildArgs = new Dictionary<string, string>(settings.BuildArgs, StringComparer.Ordinal);
        if (settings.BaseImageBuildArg is { Length: > 0 } baseImageArg && !buildArgs.ContainsKey(baseImageArg))
        {
            buildArgs[baseImageArg] = await new BaseImage(session.Docker, session.Log).EnsureAsync(cancellationToken).ConfigureAwait(false);
        }

        // No io.kubedind labels: containers inherit their image's labels, and an app's containers are not KubeDind's.
        var labels = new Dictionary<string, string>(settings.Labels, StringComparer.Ordinal);
        var context = BuildContext.FromDirectory(settings.ContextDirectory).AddFile("Dockerfile", dockerfile);
        var images = new ImageStore(session.Docker, session.Log);
        if (await InputsDigestAsync(images, context, await File.ReadAllTextAsync(dockerfile, cancellationToken).ConfigureAwait(false), buildArgs, labels, cancellationToken).ConfigureAwait(false) is { } inputs)
        {
            var existing = await images.InspectAsync(settings.Tag, cancellationToken).ConfigureAwait(false);
            if (existing?.Config?.Labels?.TryGetValue(InputsLabel, out var built) == true && built == inputs)
            {
                session.Log.Info($"image {settings.Tag}: already built from this context, Dockerfile, build arguments and base images; not built again");
                return settings.Tag;
            }

            labels[InputsLabel] = inputs;
        }

        await images.BuildAsync(context, settings.Tag, buildArgs, labels, cancellationToken).ConfigureAwait(false);
        return settings.Tag;
    }

    /// <summary>
    /// The label an image built here carries: the digest of what it was built from (<see cref="InputsDigestAsync"/>), so
    /// an unchanged build is skipped. Not an io.kubedind label: it says nothing about who owns the image's containers.
    /// </summary>
    public const string InputsLabel = "kubedind.build-inputs";

    /// <summary>
    /// One digest of what the build reads: the context (its Dockerfile included), the build arguments and labels,
    /// and the engine's IDs of the images it builds on (<see cref="DockerfileImages"/>). The same digest means the
    /// classic builder would take every step from its cache and make the same image. Null when it cannot be told:
    /// an image the Dockerfile names is not on the engine (the build pulls it), or the Dockerfile reads something
    /// else that may change (<see cref="DockerfileImages.Find"/>).
    /// </summary>
    private static async Task<string?> InputsDigestAsync(ImageStore images, BuildContext context, string dockerfile, IReadOnlyDictionary<string, string> buildArgs, IReadOnlyDictionary<string, string> labels, CancellationToken cancellationToken)
    {
        if (DockerfileImages.Find(dockerfile, buildArgs) is not { } bases)
        {
            return null;
        }

        var text = new System.Text.StringBuilder("kubedind build inputs 1\n");
        text.Append("context ").Append(context.ContentHash()).Append('\n');
        foreach (var (name, value) in buildArgs.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            text.Append("arg ").Append(name).Append('=').Append(value).Append('\n');
        }

        foreach (var (name, value) in labels.Where(l => l.Key != InputsLabel).OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            text.Append("label ").Append(name).Append('=').Append(value).Append('\n');
        }

        foreach (var image in bases)
        {
            if ((await images.InspectAsync(image, cancellationToken).ConfigureAwait(false))?.ID is not { } id)
            {
                return null;
            }

            text.Append("image ").Append(image).Append(' ').Append(id).Append('\n');
        }

        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Checks the settings before anything starts (front ends call it up front); returns the Dockerfile's path.</summary>
    public static string Validate(KubeDindImage settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (string.IsNullOrWhiteSpace(settings.Tag))
        {
            throw new KubeDindException("BuildImage: no Tag; set one such as \"example-app:dev\" to push and deploy it by.");
        }

        if (string.IsNullOrWhiteSpace(settings.ContextDirectory))
        {
            throw new KubeDindException($"BuildImage {settings.Tag}: no ContextDirectory; set it to the folder to build (e.g. the app's publish folder).");
        }

        if (!Directory.Exists(settings.ContextDirectory))
        {
            throw new KubeDindException($"BuildImage {settings.Tag}: context directory '{settings.ContextDirectory}' does not exist; build or publish into it first.");
        }

        var dockerfile = settings.Dockerfile ?? Path.Combine(settings.ContextDirectory, "Dockerfile");
        if (!File.Exists(dockerfile))
        {
            throw new KubeDindException($"BuildImage {settings.Tag}: no Dockerfile at '{dockerfile}'; put one in the context or set Dockerfile.");
        }

        return dockerfile;
    }
}
