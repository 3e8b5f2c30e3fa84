using Cake.Core.IO;

namespace Cake.KubeDind;

internal static class KubeDindPaths
{
    public static readonly DirectoryPath DefaultArtifacts = new("artifacts/kubedind");

    public static string Artifacts(DirectoryPath? configured, DirectoryPath workingDirectory) =>
        (configured ?? DefaultArtifacts).MakeAbsolute(workingDirectory).FullPath;
}
