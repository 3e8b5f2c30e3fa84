using System.Diagnostics;
using System.Text;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;

namespace Cake.KubeDind.Tests.Integration;

/// <summary>
/// The packed addin as a user gets it: <c>dotnet pack</c> into a folder feed, a Cake script loading it with
/// <c>#addin</c> while every network source is unreachable (a dead proxy), then StartCluster (compose mode),
/// BuildImage, PushImage and Teardown against the real engine, leaving nothing with the run's id behind.
/// </summary>
public sealed class CakeScriptTests
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(12);

    [Fact]
    public async Task Packed_addin_loads_offline_from_a_folder_feed_and_runs_a_compose_cluster_end_to_end()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var root = RepositoryRoot();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var runId = $"kdt-cake-{suffix}";
        var version = $"0.1.0-it.{DateTime.UtcNow:yyyyMMddHHmmss}.{suffix}";
        var work = Directory.CreateTempSubdirectory("kdt-cake-it-").FullName;
        var feed = Path.Combine(work, "feed");
        var scriptDirectory = Path.Combine(work, "script");
        var imageTag = $"kdt-cake-it-{suffix}:1";
        try
        {
            AssertBundlesItsDependencies(await PackAddinAsync(root, version, feed, cancellationToken));

            Directory.CreateDirectory(Path.Combine(scriptDirectory, "image"));
            File.WriteAllText(Path.Combine(scriptDirectory, "image", "Dockerfile"), "ARG BASE_IMAGE\nFROM ${BASE_IMAGE} AS source\nFROM scratch\nCOPY --from=source /sbin/ldconfig /ldconfig\nENTRYPOINT [\"/ldconfig\", \"--version\"]\n");
            var script = Path.Combine(scriptDirectory, "build.cake");
            File.WriteAllText(script, Script(version, suffix, imageTag));

            var environment = new Dictionary<string, string>
            {
                ["KUBEDIND_RUN_ID"] = runId,
                // No source but the folder feed may be reachable: every HTTP(S) request goes to a dead proxy;
                // KubeDind's own checks of the endpoints the engine publishes here must not use it.
                ["HTTP_PROXY"] = "http://127.0.0.1:9",
                ["HTTPS_PROXY"] = "http://127.0.0.1:9",
                ["NO_COLOR"] = "1",
            };
            var cake = await RunAsync("dotnet", ["dotnet-cake", script, $"--nuget_source={feed}", "--verbosity=normal"], root, environment, ScriptTimeout, cancellationToken);
            Assert.True(cake.ExitCode == 0, $"dotnet cake exited {cake.ExitCode}:\n{cake.Output}");
            Assert.Contains("kdt: cluster kdt-cake-", cake.Output, StringComparison.Ordinal);
            Assert.Contains($"kdt: pushed localhost:5000/kdt-cake-it-{suffix}:1", cake.Output, StringComparison.Ordinal);
            Assert.Contains("kdt: registry has kdt-cake-it-", cake.Output, StringComparison.Ordinal);
            Assert.Contains("kdt: torn down", cake.Output, StringComparison.Ordinal);
            Assert.True(Directory.Exists(Path.Combine(scriptDirectory, "tools", "Addins", $"Cake.KubeDind.{version}")), "the addin was not installed from the folder feed into tools/Addins");

            await AssertNothingLeftAsync(runId, cancellationToken);
        }
        finally
        {
            await RemoveImageAsync(imageTag);
            Directory.Delete(work, recursive: true);
        }
    }

    private static string Script(string version, string suffix, string imageTag) => $$"""
        #addin nuget:?package=Cake.KubeDind&version={{version}}

        KubeDindCluster cluster = null;

        Task("Default").Does(async () =>
        {
            cluster = await KubeDindStartCluster(new KubeDindClusterSettings()
                .WithName("kdt-cake-{{suffix}}")
                .WithComposeMode()
                .WithSweepFirst(false)
                .WithStopTimeout(TimeSpan.FromSeconds(5))
                .WithReadinessTimeout(TimeSpan.FromMinutes(4)));
            Information("kdt: cluster " + cluster.Name);
            var image = await KubeDindBuildImage(new KubeDindBuildImageSettings().WithContext(Directory("image")).WithTag("{{imageTag}}"));
            var reference = await KubeDindPushImage(cluster, image);
            Information("kdt: pushed " + reference);
            var pulled = await cluster.ExecAsync("docker", "pull", reference);
            if (!pulled.Succeeded) throw new Exception("the cluster's dockerd cannot pull " + reference + ": " + pulled.StandardOutput + pulled.StandardError);
            Information("kdt: registry has kdt-cake-it-{{suffix}}");
        });

        Teardown(context =>
        {
            if (cluster != null)
            {
                KubeDindTeardown(cluster).GetAwaiter().GetResult();
                Information("kdt: torn down");
            }
        });

        RunTarget("Default");
        """;

    /// <summary>
    /// A script uses the objects the aliases return as it finds them: the cluster's Kubernetes client (KubernetesClient's
    /// extension methods in <c>k8s</c>) and its models (<c>k8s.Models</c>) without a <c>using</c> of its own. Cake's
    /// dry run compiles the whole script and runs no task, so no cluster is needed; a missing import is CS1061 or CS0246.
    /// </summary>
    [Fact]
    public async Task A_script_calls_the_clusters_Kubernetes_client_without_a_using_of_its_own()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var root = RepositoryRoot();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var version = $"0.1.0-imports.{DateTime.UtcNow:yyyyMMddHHmmss}.{suffix}";
        var work = Directory.CreateTempSubdirectory("kdt-cake-imports-").FullName;
        var feed = Path.Combine(work, "feed");
        try
        {
            await PackAddinAsync(root, version, feed, cancellationToken);
            var script = Path.Combine(work, "build.cake");
            File.WriteAllText(script, $$"""
                #addin nuget:?package=Cake.KubeDind&version={{version}}

                KubeDindCluster cluster = null;

                Task("Default").Does(async () =>
                {
                    cluster = await KubeDindStartCluster();
                    V1PodList pods = await cluster.Kubernetes.CoreV1.ListNamespacedPodAsync("default");
                    foreach (var pod in pods.Items) Information(pod.Name());
                });

                RunTarget("Default");
                """);

            var cake = await RunAsync("dotnet", ["dotnet-cake", script, $"--nuget_source={feed}", "--dryrun"], root, new Dictionary<string, string> { ["NO_COLOR"] = "1" }, ScriptTimeout, cancellationToken);

            Assert.True(cake.ExitCode == 0, $"the script did not compile without its own using (exit {cake.ExitCode}):\n{cake.Output}");
            Assert.DoesNotContain("error CS", cake.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// Ctrl+C as a terminal sends it: SIGINT to the script's whole process group once StartCluster has created the
    /// container (seconds before the cluster can be ready, so even a fast machine cannot finish first). The step removes the container it created, the script fails with one line saying
    /// it was cancelled by Ctrl+C, its Teardown still runs, and nothing with the run's id is left.
    /// </summary>
    [Fact]
    public async Task Ctrl_C_during_StartCluster_removes_what_it_created_and_the_script_says_cancelled()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var root = RepositoryRoot();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var runId = $"kdt-cake-int-{suffix}";
        var version = $"0.1.0-int.{DateTime.UtcNow:yyyyMMddHHmmss}.{suffix}";
        var work = Directory.CreateTempSubdirectory("kdt-cake-int-").FullName;
        var feed = Path.Combine(work, "feed");
        try
        {
            await PackAddinAsync(root, version, feed, cancellationToken);
            var script = Path.Combine(work, "build.cake");
            File.WriteAllText(script, $$"""
                #addin nuget:?package=Cake.KubeDind&version={{version}}

                KubeDindCluster cluster = null;

                Task("Default").Does(async () =>
                {
                    cluster = await KubeDindStartCluster(new KubeDindClusterSettings()
                        .WithName("kdt-cake-int-{{suffix}}")
                        .WithComposeMode()
                        .WithSweepFirst(false)
                        .WithStopTimeout(TimeSpan.FromSeconds(5))
                        .WithReadinessTimeout(TimeSpan.FromMinutes(4)));
                    Information("kdt: StartCluster returned");
                });

                Teardown(context =>
                {
                    Information("kdt: teardown ran, cluster " + (cluster == null ? "never started" : cluster.Name));
                    if (cluster != null) KubeDindTeardown(cluster).GetAwaiter().GetResult();
                });

                RunTarget("Default");
                """);

            var environment = new Dictionary<string, string> { ["KUBEDIND_RUN_ID"] = runId, ["NO_COLOR"] = "1" };

            // setsid: the script leads its own process group, as a terminal's foreground job does, so the signal
            // reaches the dotnet host and the Cake process alike. env --default-signal: a build started in the
            // background by a shell without job control inherits SIGINT ignored, and .NET keeps an ignored SIGINT
            // ignored; a terminal's foreground job never has it ignored.
            var cake = await RunAsync(
                "setsid",
                ["env", "--default-signal=INT", "dotnet", "dotnet-cake", script, $"--nuget_source={feed}", "--verbosity=diagnostic"],
                root,
                environment,
                ScriptTimeout,
                cancellationToken,
                interruptWhen: line => line.Contains(": created container ", StringComparison.Ordinal));

            Assert.True(cake.Interrupted, "the script never logged that it created the container:\n" + cake.Output);
            Assert.True(cake.ExitCode != 0, "the interrupted script exited 0:\n" + cake.Output);
            Assert.DoesNotContain("kdt: StartCluster returned", cake.Output, StringComparison.Ordinal);
            Assert.Contains("kdt: teardown ran, cluster never started", cake.Output, StringComparison.Ordinal);
            var error = cake.Output.Split('\n').FirstOrDefault(l => l.Contains("KubeDind: Ctrl+C: cluster kdt-cake-int-", StringComparison.Ordinal) && l.Contains("cancelled", StringComparison.Ordinal));
            Assert.True(error is not null, "no line says the step was cancelled by Ctrl+C:\n" + cake.Output);
            await AssertNothingLeftAsync(runId, cancellationToken);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<string> PackAddinAsync(string root, string version, string feed, CancellationToken cancellationToken)
    {
        var pack = await RunAsync(
            "dotnet",
            ["pack", Path.Combine(root, "src/Cake.KubeDind/Cake.KubeDind.csproj"), "-c", Configuration, "--no-build", "-o", feed, $"-p:PackageVersion={version}", "--nologo"],
            root,
            new Dictionary<string, string>(),
            TimeSpan.FromMinutes(5),
            cancellationToken);
        Assert.True(pack.ExitCode == 0, "dotnet pack failed:\n" + pack.Output);
        var package = Path.Combine(feed, $"Cake.KubeDind.{version}.nupkg");
        Assert.True(File.Exists(package), $"no {package}:\n{pack.Output}");
        return package;
    }

    private static void AssertBundlesItsDependencies(string package)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(package);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        foreach (var dll in new[] { "Cake.KubeDind.dll", "KubeDind.dll", "Docker.DotNet.dll", "KubernetesClient.dll", "YamlDotNet.dll", "Fractions.dll" })
        {
            Assert.Contains("lib/net10.0/" + dll, names);
        }

        Assert.DoesNotContain("lib/net10.0/Cake.Core.dll", names);
    }

    private static async Task AssertNothingLeftAsync(string runId, CancellationToken cancellationToken)
    {
        using var docker = await DockerEngine.ConnectAsync(cancellationToken: cancellationToken);
        var filter = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{KubeDindLabels.RunId}={runId}"] = true } };
        var containers = await docker.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, cancellationToken);
        var volumes = await docker.Volumes.ListAsync(new VolumesListParameters { Filters = filter }, cancellationToken);
        Assert.Empty(containers.Select(c => string.Join(",", c.Names)));
        Assert.Empty((volumes.Volumes ?? []).Select(v => v.Name));
    }

    private static async Task RemoveImageAsync(string image)
    {
        try
        {
            using var docker = await DockerEngine.ConnectAsync();
            await new global::KubeDind.Docker.ImageStore(docker, global::KubeDind.Logging.NullKubeDindLog.Instance).RemoveAsync(image, force: true, CancellationToken.None);
        }
        catch (DockerApiException)
        {
            // Never built, or gone already.
        }
        catch (global::KubeDind.KubeDindException)
        {
            // No engine: nothing to remove.
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "KubeDind.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no KubeDind.sln above {AppContext.BaseDirectory}");
    }

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    private static async Task<(int ExitCode, string Output, bool Interrupted)> RunAsync(
        string file,
        IEnumerable<string> arguments,
        string workingDirectory,
        IDictionary<string, string> environment,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        Func<string, bool>? interruptWhen = null)
    {
        var interrupted = 0;
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', start.ArgumentList)} did not finish within {timeout.TotalMinutes:0} minutes:\n{output}");
        }

        process.WaitForExit();
        return (process.ExitCode, output.ToString(), interrupted == 1);

        void Append(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(line);
            }

            if (interruptWhen is not null && interruptWhen(line) && Interlocked.Exchange(ref interrupted, 1) == 0)
            {
                // The whole process group, as a terminal delivers Ctrl+C; .NET can signal only one process.
                using var kill = Process.Start("kill", ["-INT", "--", $"-{process.Id}"]);
                kill.WaitForExit();
            }
        }
    }
}
