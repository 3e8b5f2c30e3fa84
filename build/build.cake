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

// --toolchain=DIR: a folder of test tools laid beside the checkout by CI (a k3s behind DIR/k3s-path, Nuke packages in
// DIR/nuget). Its k3s becomes KUBEDIND_K3S_BINARY and its packages an extra restore source, for this build and every
// process it starts; a user's own restore never sees them (no NuGet.config in the repository names them).
var toolchain = Argument("toolchain", string.Empty);
if (toolchain.Length > 0)
{
    // Relative to where ./build.sh was run (the repo root), not to build/.
    UseToolchain(System.IO.Path.IsPathRooted(toolchain) ? Directory(toolchain).Path : root.Combine(toolchain).Collapse());
}

void UseToolchain(DirectoryPath directory)
{
    if (!DirectoryExists(directory)) Fail($"--toolchain={toolchain}: no such folder ({directory.FullPath}); pass the folder that holds k3s-path and nuget/, or leave it out.");
    var k3sPath = directory.CombineWithFilePath("k3s-path");
    if (FileExists(k3sPath))
    {
        var exit = StartProcess(k3sPath, new ProcessSettings { RedirectStandardOutput = true }, out var lines);
        var binary = lines.LastOrDefault()?.Trim() ?? string.Empty;
        if (exit != 0 || binary.Length == 0 || !FileExists(binary)) Fail($"--toolchain={toolchain}: k3s-path exited {exit} without naming a k3s binary; check the toolchain folder.");
        Environment.SetEnvironmentVariable("KUBEDIND_K3S_BINARY", binary);
        Information($"toolchain: k3s {binary}");
    }

    var nuget = directory.Combine("nuget");
    if (DirectoryExists(nuget))
    {
        // MSBuild reads environment variables as properties: every restore below, and examples/nuke's, adds this source.
        Environment.SetEnvironmentVariable("RestoreAdditionalProjectSources", nuget.FullPath);
        Information($"toolchain: extra NuGet source {nuget.FullPath}");
    }
}

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

// KubeDind.BuildTool (built by Build) with these arguments; its exit code.
int RunBuildTool(string arguments) => StartProcess("dotnet", new ProcessSettings
{
    Arguments = $"run --no-build -c {configuration} --project \"{root.CombineWithFilePath("build/KubeDind.BuildTool/KubeDind.BuildTool.csproj").FullPath}\" -- {arguments}",
    WorkingDirectory = root,
});

// A tool the build needs from Debian's packages: installed when missing (as root), else one line saying what to run.
void EnsureDebianPackage(string command, string package)
{
    var script = root.CombineWithFilePath("build/scripts/ensure-package.sh").FullPath;
    var exit = StartProcess("bash", new ProcessSettings { Arguments = new ProcessArgumentBuilder().AppendQuoted(script).Append(command).Append(package) });
    if (exit != 0) Fail($"{command} is needed and missing (see the line above).");
}

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

    foreach (var target in BuildTargets())
    {
        DotNetRestore(target.FullPath, new DotNetRestoreSettings { Verbosity = DotNetVerbosity.Quiet });
    }
});

Task("Build")
    .IsDependentOn("Restore")
    .Does(() =>
{
    foreach (var target in BuildTargets())
    {
        DotNetBuild(target.FullPath, new DotNetBuildSettings { Configuration = configuration, NoRestore = true, Verbosity = DotNetVerbosity.Minimal });
    }
});

// What Restore and Build hand to dotnet: one solution filter naming the buildable projects of the solution, so that
// MSBuild restores and builds them in one run (in parallel, each project once, instead of once per project that
// references it), then each buildable project the solution does not hold.
IReadOnlyList<FilePath> BuildTargets()
{
    var solution = root.CombineWithFilePath("KubeDind.sln");
    var inSolution = System.IO.File.ReadAllLines(solution.FullPath)
        .Select(line => System.Text.RegularExpressions.Regex.Match(line, "\"([^\"]+\\.csproj)\""))
        .Where(match => match.Success)
        .Select(match => match.Groups[1].Value)
        .ToDictionary(path => path.Replace('\\', '/'), path => path);
    var buildable = BuildableProjects().Select(p => root.GetRelativePath(p).FullPath).ToList();
    var filter = artifacts.CombineWithFilePath("build.slnf");
    EnsureDirectoryExists(artifacts);
    var projects = buildable.Where(inSolution.ContainsKey).Select(p => inSolution[p]).ToList();
    System.IO.File.WriteAllText(filter.FullPath, System.Text.Json.JsonSerializer.Serialize(new { solution = new { path = "../KubeDind.sln", projects } }));
    return buildable.Where(p => !inSolution.ContainsKey(p)).Select(p => (FilePath)root.CombineWithFilePath(p)).Prepend(filter).ToList();
}

Task("BaseImage")
    .Description("Make sure the Debian base image exists; offline it is built from Debian packages once and reused.")
    .IsDependentOn("Engine")
    .IsDependentOn("Build")
    .Does(() =>
{
    var exit = RunBuildTool("base-image");
    if (exit != 0) Fail("the base image could not be made (see the error above).");
});

Task("Shellcheck")
    .Description("shellcheck over every shell script (image/, build, examples, .ci/run); any finding fails the build. Installs Debian's shellcheck when missing (as root).")
    .Does(() =>
{
    EnsureDebianPackage("shellcheck", "shellcheck");

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
    EnsureDebianPackage("chromium", "chromium");
});

Task("Test")
    .Description("shellcheck, then every test project against the real Docker engine; prints 'N passed, N failed, N skipped' last.")
    .IsDependentOn("Shellcheck")
    .IsDependentOn("Chromium")
    .IsDependentOn("Build")
    .IsDependentOn("BaseImage")
    .Does(() =>
{
    var totals = RunTestProjects();
    WriteTotals(totals);
    if (totals.Failed > 0)
    {
        Fail($"tests failed: {totals.Line}");
    }
});

// Every test project against the real engine; a project that fails to run counts as a failure named after it.
TestTotals RunTestProjects()
{
    EnsureDirectoryExists(testResults);
    CleanDirectory(testResults);
    var crashed = new List<(string Name, string Message)>();
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
            crashed.Add((name, ex.Message));
        }
    }

    var totals = TestSummary.Read(testResults.FullPath);
    foreach (var (name, reason) in SkippedProjects)
    {
        Information($"{name}: skipped as a whole ({reason})");
    }

    // A project whose run failed without writing its results (the build of its host failed, the host crashed) is a failure too.
    foreach (var (name, message) in crashed.Where(c => !FileExists(testResults.CombineWithFilePath(c.Name + ".trx"))))
    {
        totals.Failed++;
        totals.FailedReasons.Add($"{name}: no results ({message})");
    }

    return totals;
}

void WriteTotals(TestTotals totals)
{
    Information(totals.Describe());
    System.IO.File.WriteAllText(testResults.CombineWithFilePath("totals.txt").FullPath, totals.Line + "\n");
}

Task("Pack")
    .IsDependentOn("Build")
    .Does(() =>
{
    // Written afresh every time: pack is incremental on the project's own assembly only, so a change in the core
    // alone would leave the addin's package (which carries the core) with the old core.
    CleanDirectory(packages);
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
    var exit = RunBuildTool(string.Join(" ", options));
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

    RunCakeSystemTest();
});

// The Cake example end to end through the packed addin; throws when it fails.
void RunCakeSystemTest()
{
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
}

Task("CI")
    .Description("What CI runs (.ci/run): Test, then SystemTest through the Cake example and through the Nuke example, on the same k3s; each SystemTest counts as a test in the closing 'N passed, N failed, N skipped'.")
    .IsDependentOn("Shellcheck")
    .IsDependentOn("Chromium")
    .IsDependentOn("Build")
    .IsDependentOn("BaseImage")
    .IsDependentOn("SystemTestK3sSource")
    .IsDependentOn("Pack")
    .Does(() =>
{
    var engineBefore = artifacts.CombineWithFilePath("engine-before.json").FullPath;
    if (RunBuildTool($"engine-snapshot \"{engineBefore}\"") != 0) Fail("could not list what the engine holds before the run (see above).");
    var totals = RunTestProjects();
    var systemTests = new (string Name, Action Run)[]
    {
        ("SystemTest (Cake example)", RunCakeSystemTest),
        ("SystemTest (Nuke example)", () => RunNukeSystemTest(root)),
    };
    foreach (var (name, run) in systemTests)
    {
        if (name.Contains("Nuke") && !nukeAvailable)
        {
            totals.Skipped++;
            totals.SkippedReasons.Add($"{name}: Nuke.Common cannot be restored here (add a NuGet source that serves Nuke.Common 10.1.0)");
            continue;
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            run();
            totals.Passed++;
            totals.ClassTimes.Add((name, watch.Elapsed));
        }
        catch (Exception ex)
        {
            totals.Failed++;
            totals.FailedReasons.Add($"{name}: {ex.Message}");
        }
    }

    // The examples' app and Redis images are their builds' output, which a user's build keeps; this run keeps nothing.
    RunBuildTool("remove-images kubedind-example-app:dev kubedind-example-redis:dev");

    // Counted as a test: a run that leaves containers, volumes or images behind (beyond what is kept by design) fails.
    const string nothingLeft = "Nothing left on the engine";
    if (RunBuildTool($"engine-leftovers \"{engineBefore}\"") == 0)
    {
        totals.Passed++;
    }
    else
    {
        totals.Failed++;
        totals.FailedReasons.Add($"{nothingLeft}: the run left resources behind (listed above)");
    }

    WriteTotals(totals);
    if (totals.Failed > 0)
    {
        Fail($"CI failed: {totals.Line}");
    }
});



Task("Bench")
    .Description("Ratios against peers measured side by side (cold/warm StartCluster vs bare k3s, PushImage vs docker push with the layer store on and off, LoadImage vs PushImage, Deploy of the example and of a 3-image 6-pod app after PushImage with the layer store on and off vs kubectl pulling what docker push sent, the example's SystemTest end to end with the layer store on and off vs the same job by hand, 3 vs 1 parallel clusters), teardown (also with the 6 pods running), leftovers, memory and the cold start's timeline; medians of --runs (default 3) in artifacts/bench/ (results.md, results.json, ratios.png); --start-only measures the start rows alone. Not part of Test.")
    .IsDependentOn("Engine")
    .IsDependentOn("Build")
    .IsDependentOn("BaseImage")
    .Does(() =>
{
    var runs = Argument("runs", 3);
    var bench = artifacts.Combine("bench");
    // The example app, for the Deploy and end to end rows (a self-contained publish, as its SystemTest uses).
    var publish = bench.Combine("example-app");
    DotNetPublish(root.CombineWithFilePath("examples/app/ExampleApp.csproj").FullPath, new DotNetPublishSettings
    {
        Configuration = configuration,
        Runtime = "linux-x64",
        SelfContained = true,
        OutputDirectory = publish,
        Verbosity = DotNetVerbosity.Quiet,
    });
    var exit = RunBuildTool($"bench --runs {runs} --out \"{bench.FullPath}\" --example-app \"{publish.FullPath}\"{(HasArgument("start-only") ? " --start-only" : string.Empty)}");
    if (exit != 0) Fail("Bench: the benchmark failed (see the error above).");
});

Task("Default").IsDependentOn("Build");

RunTarget(target);
