using System.Diagnostics;

namespace KubeDind.Tests.Reports;

/// <summary>
/// Debian's chromium, headless, as the report's real reader: the DOM it builds from a page (<c>--dump-dom</c>) and a
/// screenshot of it. Missing chromium fails the test with the command that installs it (the build's Chromium task
/// installs it when it can).
/// </summary>
internal static class HeadlessChromium
{
    public const string InstallHint = "chromium is missing: install Debian's package (apt-get install -y chromium, as root) or run ./build.sh --target=Test, which installs it";

    /// <summary>A first start unpacks its profile and fonts; on a loaded 2-core machine that takes tens of seconds, never minutes.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>Where tests keep what a person looks at after the run (CI keeps artifacts/).</summary>
    public static string ArtifactsDirectory
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "KubeDind.sln")))
            {
                directory = directory.Parent;
            }

            var path = Path.Combine(directory?.FullName ?? Path.GetTempPath(), "artifacts", "test-results");
            Directory.CreateDirectory(path);
            return path;
        }
    }

    public static string Executable =>
        new[] { "chromium", "chromium-browser" }
            .SelectMany(name => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator).Select(dir => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists) ?? throw new InvalidOperationException(InstallHint);

    /// <summary>The DOM chromium built from <paramref name="page"/>, serialised.</summary>
    public static Task<string> DumpDomAsync(string page, CancellationToken cancellationToken) =>
        RunAsync(["--dump-dom", new Uri(Path.GetFullPath(page)).AbsoluteUri], "the DOM of " + page, cancellationToken);

    /// <summary>A 1280×2000 PNG of <paramref name="page"/> at <paramref name="screenshot"/>.</summary>
    public static async Task ScreenshotAsync(string page, string screenshot, CancellationToken cancellationToken)
    {
        File.Delete(screenshot);
        await RunAsync([$"--screenshot={screenshot}", "--window-size=1280,2000", "--hide-scrollbars", new Uri(Path.GetFullPath(page)).AbsoluteUri], "a screenshot of " + page, cancellationToken);
        if (!File.Exists(screenshot))
        {
            throw new InvalidOperationException($"chromium exited without writing the screenshot {screenshot}");
        }
    }

    private static async Task<string> RunAsync(IEnumerable<string> arguments, string what, CancellationToken cancellationToken)
    {
        var profile = Path.Combine(Path.GetTempPath(), "kdt-chromium-" + Guid.NewGuid().ToString("N")[..8]);
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", $"--user-data-dir={profile}" }.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("chromium did not start");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var error = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"chromium failed (exit code {process.ExitCode}) making {what}: {(await error).Trim()}");
            }

            return await output;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"gave up waiting {Timeout.TotalSeconds:0}s for chromium to make {what}");
        }
        finally
        {
            if (Directory.Exists(profile))
            {
                Directory.Delete(profile, recursive: true);
            }
        }
    }
}
