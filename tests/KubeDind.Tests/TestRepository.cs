namespace KubeDind.Tests;

/// <summary>The checkout the tests run from, for tests that read its files (docs, scripts, the example).</summary>
public static class TestRepository
{
    /// <summary>The directory holding KubeDind.sln, above the test assembly.</summary>
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "KubeDind.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no KubeDind.sln above {AppContext.BaseDirectory}; run the tests from the repository.");
    }
}
