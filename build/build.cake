// KubeDind's own build. Run through ./build.sh or ./build.ps1, which pass every argument through.
#load "test-summary.cake"
#load "system-test-nuke.cake"

var target = Argument("target", "Build");
var configuration = Argument("configuration", "Release");

var root = MakeAbsolute(Directory(".."));
var artifacts = root.Combine("artifacts");
var testResults = artifacts.Combine("test-results");
var packages = artifacts.Combine("packages");
var nukeAvailable = false;

FilePath[] Projects(string pattern) => GetFiles(root.FullPath + "/" + pattern).Select(f => (FilePath)f).ToArray();

// By the project's own name (and examples/nuke inside the repo), never the checkout's path, which may contain "nuke".
bool IsNukeProject(FilePath project) =>
    project.GetFilename().FullPath.StartsWith("Nuke.", StringComparison.Ordinal)
    || root.GetRelativePath(project).FullPath.StartsWith("examples/nuke/", StringComparison.Ordinal);

IEnumerable<FilePath> BuildableProjects() =>
    Projects("src/**/*.csproj")
        .Concat(Projects("build/**/*.csproj"))
        .Concat(Projects("tests/**/*.csproj"))
        .Concat(Projects("examples/**/*.csproj"))
        .Where(p => nukeAvailable || !IsNukeProject(p));

void Fail(string message) => throw new CakeException(message);

Task("Clean")
    .Does(() =>
{
    CleanDirectories(root.FullPath + "/src/**/bin");
    CleanDirectories(root.FullPath + "/src/**/obj");
    CleanDirectories(root.FullPath + "/tests/**/bin");
    CleanDirectories(root.FullPath + "/tests/**/obj");
    CleanDirectories(root.FullPath + "/examples/**/bin");
    CleanDirectories(root.FullPath + "/examples/**/obj");
    // artifacts/dockerd holds the log and pid of an engine the build may have started: keep it.
    foreach (var dir in new[] { testResults, packages, artifacts.Combine("kubedind"), artifacts.Combine("bench") })
    {
        if (DirectoryExists(dir)) DeleteDirectory(dir, new DeleteDirectorySettings { Recursive = true, Force = true });
    }
});

Task("Engine")
    .Description("Make sure a Docker engine answers (installs and starts Debian's docker.io as root when none does).")
    .Does(() =>
{
    var exit = StartProcess("bash", new ProcessSettings { Arguments = root.CombineWithFilePath("build/scripts/ensure-docker.sh").FullPath, WorkingDirectory = root });
    if (exit != 0) Fail("no Docker engine is available (see the line above); the Docker-backed targets cannot run.");
});

Task("Restore")
    .Does(() =>
{
    // Nuke.Common is not served by every NuGet source: probe it on its own so its absence skips
    // the Nuke component and its example instead of failing the whole build.
    var nukeProject = root.CombineWithFilePath("src/Nuke.KubeDind/Nuke.KubeDind.csproj");
    IEnumerable<string> captured;
    var exit = StartProcess("dotnet", new ProcessSettings
    {
        Arguments = $"restore \"{nukeProject.FullPath}\" -v q --nologo",
        RedirectStandardOutput = true,
        RedirectStandardError = true,
    }, out captured);
    // The captured output can be read once only: keep it.
    var output = captured.ToList();
    nukeAvailable = exit == 0;
    if (!nukeAvailable)
    {
        var notFound = output.Any(l => l.Contains("NU1101") || l.Contains("Unable to find package"));
        var reason = notFound ? "Nuke.Common 10.1.0 is not on the configured NuGet sources (NU1101)" : "restoring Nuke.Common failed: " + (output.FirstOrDefault(l => l.Contains("error")) ?? output.LastOrDefault() ?? "no output").Trim();
        Warning($"Nuke.KubeDind skipped: {reason}; the Nuke component, its tests and examples/nuke are not built here. Add a source that serves Nuke.Common to build them.");
    }

    foreach (var project in BuildableProjects())
    {
        DotNetRestore(project.FullPath, new DotNetRestoreSettings { Verbosity = DotNetVerbosity.Quiet });
    }
});

Task("Build")
    .IsDependentOn("Restore")
    .Does(() =>
{
    foreach (var project in BuildableProjects())
    {
        DotNetBuild(project.FullPath, new DotNetBuildSettings { Configuration = configuration, NoRestore = true, Verbosity = DotNetVerbosity.Minimal });
    }
});

Task("BaseImage")
    .Description("Make sure the Debian base image exists; offline it is built from Debian packages once and reused.")
    .IsDependentOn("Engine")
    .IsDependentOn("Build")
    .Does(() =>
{
    var exit = StartProcess("dotnet", new ProcessSettings
    {
        Arguments = $"run --no-build -c {configuration} --project \"{root.CombineWithFilePath("build/KubeDind.BuildTool/KubeDind.BuildTool.csproj").FullPath}\" -- base-image",
    });
    if (exit != 0) Fail("the base image could not be made (see the error above).");
});

Task("Shellcheck")
    .Description("shellcheck over every shell script (image/, build, examples, .ci/run); any finding fails the build. Installs Debian's shellcheck when missing (as root).")
    .Does(() =>
{
    if (StartProcess("sh", new ProcessSettings { Arguments = "-c \"command -v shellcheck >/dev/null\"" }) != 0)
    {
        Information("shellcheck is missing; installing Debian's package");
        var install = StartProcess("sh", new ProcessSettings { Arguments = "-c \"[ $(id -u) -eq 0 ] && { apt-get install -y -q shellcheck >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q shellcheck >/dev/null 2>&1; }; }\"" });
        if (install != 0) Fail("shellcheck is missing and could not be installed; run: apt-get install -y shellcheck");
    }

    var scripts = GetFiles(root.FullPath + "/image/**/*.sh")
        .Concat(GetFiles(root.FullPath + "/image/rootfs/usr/local/bin/*"))
        .Concat(GetFiles(root.FullPath + "/build/**/*.sh"))
        .Concat(GetFiles(root.FullPath + "/examples/**/*.sh"))
        .Append(root.CombineWithFilePath("build.sh"))
        .Append(root.CombineWithFilePath(".ci/run"))
        .Select(f => root.GetRelativePath(f).FullPath)
        .Distinct()
        .ToList();
    var arguments = new ProcessArgumentBuilder().Append("-f").Append("gcc");
    foreach (var script in scripts) arguments.AppendQuoted(script);
    var exit = StartProcess("shellcheck", new ProcessSettings { Arguments = arguments, WorkingDirectory = root });
    if (exit != 0) Fail($"shellcheck found problems in the shell scripts (listed above); {scripts.Count} scripts checked.");
    Information($"shellcheck: {scripts.Count} scripts, no findings");
});

Task("Chromium")
    .Description("Makes sure headless chromium is there for the report's browser tests. Installs Debian's chromium when missing (as root).")
    .Does(() =>
{
    if (StartProcess("sh", new ProcessSettings { Arguments = "-c \"command -v chromium >/dev/null || command -v chromium-browser >/dev/null\"" }) == 0)
    {
        return;
    }

    Information("chromium is missing; installing Debian's package");
    var install = StartProcess("sh", new ProcessSettings { Arguments = "-c \"[ $(id -u) -eq 0 ] && { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }\"" });
    if (install != 0) Fail("chromium is missing and could not be installed; run: apt-get install -y chromium");
});

Task("Test")
    .Description("shellcheck, then every test project against the real Docker engine; prints 'N passed, N failed, N skipped' last.")
    .IsDependentOn("Shellcheck")
    .IsDependentOn("Chromium")
    .IsDependentOn("Build")
    .IsDependentOn("BaseImage")
    .Does(() =>
{
    EnsureDirectoryExists(testResults);
    CleanDirectory(testResults);
    var failures = new List<string>();
    var testProjects = Projects("tests/**/*.Tests.csproj").Concat(Projects("examples/**/*.Tests.csproj")).ToList();
    foreach (var project in testProjects)
    {
        var name = project.GetFilenameWithoutExtension().FullPath;
        if (!nukeAvailable && IsNukeProject(project))
        {
            SkippedProjects.Add((name, "Nuke.Common cannot be restored here"));
            continue;
        }

        try
        {
            DotNetTest(project.FullPath, new DotNetTestSettings
            {
                Configuration = configuration,
                NoBuild = true,
                NoRestore = true,
                ResultsDirectory = testResults,
                Loggers = new[] { $"trx;LogFileName={name}.trx", "console;verbosity=normal" },
            });
        }
        catch (Exception ex)
        {
            failures.Add($"{name}: {ex.Message}");
        }
    }

    var totals = TestSummary.Read(testResults.FullPath);
    foreach (var (name, reason) in SkippedProjects)
    {
        Information($"{name}: skipped as a whole ({reason})");
    }
    Information(totals.Describe());
    System.IO.File.WriteAllText(testResults.CombineWithFilePath("totals.txt").FullPath, totals.Line + "\n");
    if (failures.Count > 0 || totals.Failed > 0)
    {
        Fail($"tests failed: {totals.Line}");
    }
});

Task("Pack")
    .IsDependentOn("Build")
    .Does(() =>
{
    EnsureDirectoryExists(packages);
    foreach (var project in Projects("src/**/*.csproj").Where(p => nukeAvailable || !IsNukeProject(p)))
    {
        DotNetPack(project.FullPath, new DotNetPackSettings { Configuration = configuration, NoBuild = true, NoRestore = true, OutputDirectory = packages });
    }
});

Task("Image")
    .Description("Build (or reuse) the kube-dind image, offline. --k3s-binary=PATH adds k3s, --k3s-download fetches the pinned release; neither: compose mode (KUBEDIND_K3S_BINARY is not read).")
    .IsDependentOn("Engine")
    .IsDependentOn("Build")
    .Does(() =>
{
    var options = new List<string> { "image" };
    var k3sBinary = Argument("k3s-binary", string.Empty);
    if (k3sBinary.Length > 0) options.Add($"--k3s-binary \"{MakeAbsolute(File(k3sBinary)).FullPath}\"");
    if (HasArgument("k3s-download")) options.Add("--k3s-download");
    var airgap = Argument("airgap-images", string.Empty);
    if (airgap.Length > 0) options.Add($"--airgap-images \"{MakeAbsolute(File(airgap)).FullPath}\"");
    if (HasArgument("force")) options.Add("--force");
    var exit = StartProcess("dotnet", new ProcessSettings
    {
        Arguments = $"run --no-build -c {configuration} --project \"{root.CombineWithFilePath("build/KubeDind.BuildTool/KubeDind.BuildTool.csproj").FullPath}\" -- {string.Join(" ", options)}",
    });
    if (exit != 0) Fail("the kube-dind image could not be built (see the error above).");
});

// SystemTest: the example end to end on a real cluster, through the packed addin as a user loads it.
//   --k3s-binary=PATH (or env KUBEDIND_K3S_BINARY)  a local k3s for the cluster image (the offline way)
//   --k3s-download                                  download the pinned k3s release (online; the default when github.com answers)
//   --k3s-args="..."                                extra k3s server arguments
//   --keep-cluster                                  leave the cluster running and print how to reach it
var systemTestK3sBinary = string.Empty;
var systemTestK3sDownload = false;

Task("SystemTestK3sSource")
    .Description("Decide where the cluster's k3s comes from before anything starts; without one, stop with one line.")
    .Does(() =>
{
    var given = Argument("k3s-binary", EnvironmentVariable("KUBEDIND_K3S_BINARY") ?? string.Empty);
    if (given.Length > 0)
    {
        // Relative to where ./build.sh was run (the repo root), not to build/.
        var path = System.IO.Path.IsPathRooted(given) ? File(given).Path : root.CombineWithFilePath(given);
        if (!FileExists(path)) Fail($"--k3s-binary={given}: no such file ({path.FullPath}); pass the path of a k3s binary (v1.21+) or set KUBEDIND_K3S_BINARY.");
        systemTestK3sBinary = path.FullPath;
        Information($"SystemTest: k3s from {systemTestK3sBinary}");
        return;
    }

    systemTestK3sDownload = HasArgument("k3s-download") || GitHubAnswers();
    if (!systemTestK3sDownload)
    {
        Fail("SystemTest needs Kubernetes but no k3s is available: this host is offline and no k3s binary was given; pass --k3s-binary=/path/to/k3s (or set KUBEDIND_K3S_BINARY), or run online to download the pinned release.");
    }

    Information("SystemTest: no local k3s given; the cluster image downloads the pinned release");
});

bool GitHubAnswers()
{
    try
    {
        using var http = new System.Net.Http.HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var response = http.Send(new System.Net.Http.HttpRequestMessage(System.Net.Http.HttpMethod.Head, "https://github.com/k3s-io/k3s/releases"));
        return true;
    }
    catch (Exception)
    {
        return false;
    }
}

Task("SystemTest")
    .Description("Pack the addin, then run examples/cake/build.cake with it (#addin from artifacts/packages only): mirror, cluster, image, push, deploy, system test, teardown.")
    .IsDependentOn("SystemTestK3sSource")
    .IsDependentOn("Engine")
    .IsDependentOn("Pack")
    .Does(() =>
{
    if (Argument("front-end", "cake") == "nuke")
    {
        RunNukeSystemTest(root);
        return;
    }

    var example = root.CombineWithFilePath("examples/cake/build.cake");
    // Cake reuses an addin already in the script's tools/Addins; the package was just rebuilt under the same version.
    var installed = root.Combine("examples/cake/tools/Addins");
    if (DirectoryExists(installed))
    {
        foreach (var stale in GetDirectories(installed.FullPath + "/Cake.KubeDind*"))
        {
            DeleteDirectory(stale, new DeleteDirectorySettings { Recursive = true, Force = true });
        }
    }

    var arguments = new ProcessArgumentBuilder()
        .Append("dotnet-cake")
        .AppendQuoted(example.FullPath)
        .AppendQuoted($"--nuget_source={packages.FullPath}")
        .AppendQuoted($"--artifacts={artifacts.FullPath}")
        .AppendQuoted($"--configuration={configuration}")
        .AppendQuoted($"--verbosity={Context.Log.Verbosity.ToString().ToLowerInvariant()}");
    if (systemTestK3sBinary.Length > 0) arguments.AppendQuoted($"--k3s-binary={systemTestK3sBinary}");
    if (systemTestK3sDownload) arguments.Append("--k3s-download");
    var k3sArgs = Argument("k3s-args", string.Empty);
    if (k3sArgs.Length > 0) arguments.AppendQuoted($"--k3s-args={k3sArgs}");
    if (HasArgument("keep-cluster")) arguments.Append("--keep-cluster");

    Information($"SystemTest: dotnet {arguments.Render()}");
    var exit = StartProcess("dotnet", new ProcessSettings { Arguments = arguments, WorkingDirectory = root });
    if (exit != 0) Fail($"SystemTest: the example's system test failed (exit {exit}; see above).");
});

Task("Bench")
    .Description("Ratios against peers measured side by side (cold/warm StartCluster vs bare k3s, PushImage vs docker push, LoadImage vs PushImage, Deploy vs kubectl, 3 vs 1 parallel clusters), teardown, leftovers, memory and the cold start's timeline; medians of --runs (default 3) in artifacts/bench/ (results.md, results.json, ratios.png); --start-only measures the start rows alone. Not part of Test.")
    .IsDependentOn("Engine")
    .IsDependentOn("Build")
    .IsDependentOn("BaseImage")
    .Does(() =>
{
    var runs = Argument("runs", 3);
    var bench = artifacts.Combine("bench");
    // The example app, for the Deploy row (a self-contained publish, as its SystemTest uses).
    var publish = bench.Combine("example-app");
    DotNetPublish(root.CombineWithFilePath("examples/app/ExampleApp.csproj").FullPath, new DotNetPublishSettings
    {
        Configuration = configuration,
        Runtime = "linux-x64",
        SelfContained = true,
        OutputDirectory = publish,
        Verbosity = DotNetVerbosity.Quiet,
    });
    var exit = StartProcess("dotnet", new ProcessSettings
    {
        Arguments = $"run --no-build -c {configuration} --project \"{root.CombineWithFilePath("build/KubeDind.BuildTool/KubeDind.BuildTool.csproj").FullPath}\" -- bench --runs {runs} --out \"{bench.FullPath}\" --example-app \"{publish.FullPath}\"{(HasArgument("start-only") ? " --start-only" : string.Empty)}",
        WorkingDirectory = root,
    });
    if (exit != 0) Fail("Bench: the benchmark failed (see the error above).");
});

Task("Default").IsDependentOn("Build");

RunTarget(target);
