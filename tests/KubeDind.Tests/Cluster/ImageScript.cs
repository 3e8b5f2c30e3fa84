using System.Diagnostics;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// Runs a piece of the image's shell scripts on the host with bash (and jq), no Docker: <paramref name="script"/>
/// after <c>set -euo pipefail</c>, with the given arguments as $1... and <paramref name="environment"/> (a null value
/// unsets the variable). Gives up after 30 s.
/// </summary>
internal static class ImageScript
{
    public static string PathOf(string name) => Path.Combine(TestRepository.Root, "image", "rootfs", "usr", "local", "lib", "kubedind", name);

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string script, IEnumerable<string> arguments, string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var ct = TestContext.Current.CancellationToken;
        var start = new ProcessStartInfo("bash", ["-c", $"set -euo pipefail\n{script}", "bash", .. arguments])
        {
            WorkingDirectory = workingDirectory ?? string.Empty,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("bash did not start");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
