namespace KubeDind.Tests.Deploy;

/// <summary>The test manifests copied next to the test assembly.</summary>
internal static class ManifestFiles
{
    public static string Root => System.IO.Path.Combine(AppContext.BaseDirectory, "TestData", "manifests");

    public static string Path(string relative) => System.IO.Path.Combine(Root, relative);
}
