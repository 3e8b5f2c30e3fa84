using System.Diagnostics;

namespace KubeDind.Tests.Image;

/// <summary>
/// The build's Image target runs the build tool's <c>image</c> command: it builds what its arguments say, and an
/// ambient KUBEDIND_K3S_BINARY does not turn a compose-mode build into a Kubernetes one.
/// </summary>
[Collection(ImageCollection.Name)]
public sealed class ImageTargetTests(ImageFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Image_without_a_k3s_option_builds_compose_mode_and_says_the_variable_is_not_used()
    {
        Assert.NotNull(fixture.Image);
        var root = TestRepository.Root;
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "run", "--no-build", "-c", configuration, "--project", Path.Combine(root, "build", "KubeDind.BuildTool", "KubeDind.BuildTool.csproj"), "--", "image" })
        {
            start.ArgumentList.Add(argument);
        }

        // A path that does not exist: were the variable read, the build would fail naming it.
        start.Environment["KUBEDIND_K3S_BINARY"] = "/no/such/k3s-from-the-environment";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Cancel);
        var stderr = process.StandardError.ReadToEndAsync(Cancel);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Cancel);
        timeout.CancelAfter(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        var text = await stdout + await stderr;
        output.WriteLine(text);

        Assert.True(process.ExitCode == 0, $"the image command exited with {process.ExitCode}");
        Assert.Contains("image: no k3s: compose mode", text, StringComparison.Ordinal);
        Assert.Contains("KUBEDIND_K3S_BINARY is set but not used here", text, StringComparison.Ordinal);
        Assert.DoesNotContain("k3s-from-the-environment", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_addin_line_in_the_docs_and_the_example_pins_a_version()
    {
        var root = TestRepository.Root;
        var files = new[] { Path.Combine(root, "README.md"), Path.Combine(root, "examples", "cake", "build.cake") }
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md"));
        var addins = new List<string>();
        foreach (var file in files)
        {
            var text = await File.ReadAllTextAsync(file, Cancel);
            addins.AddRange(System.Text.RegularExpressions.Regex.Matches(text, @"#addin nuget:\?package=Cake\.KubeDind[^\s`]*").Select(m => $"{Path.GetRelativePath(root, file)}: {m.Value}"));
        }

        Assert.NotEmpty(addins);
        Assert.All(addins, l => Assert.Matches(@"&version=\d+\.\d+\.\d+", l));
    }
}
