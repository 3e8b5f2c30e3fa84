using KubeDind.Docker;

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

        // No KubeDind labels: containers inherit their image's labels, and an app's containers are not KubeDind's.
        var labels = new Dictionary<string, string>(settings.Labels, StringComparer.Ordinal);
        var context = BuildContext.FromDirectory(settings.ContextDirectory).AddFile("Dockerfile", dockerfile);
        await new ImageStore(session.Docker, session.Log).BuildAsync(context, settings.Tag, buildArgs, labels, cancellationToken).ConfigureAwait(false);
        return settings.Tag;
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
