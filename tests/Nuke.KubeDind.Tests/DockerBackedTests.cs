using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Nuke.KubeDind.Tests;

/// <summary>
/// The component with the real core against the real Docker engine: a Nuke build starts a compose-mode
/// cluster (no k3s needed), builds and pushes a small image into its registry, exposes the endpoints to a
/// later target, and Teardown removes the cluster. Skipped when no Docker engine answers.
/// </summary>
public sealed class DockerBackedTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kdt-nuke-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _image = $"kdt-nuke-{Guid.NewGuid().ToString("N")[..8]}:test";

    public DockerBackedTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, ".nuke"));
        Directory.CreateDirectory(Path.Combine(_root, "context"));
        File.WriteAllText(Path.Combine(_root, "context", "Dockerfile"), "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo kubedind-nuke > /hello\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_Nuke_build_starts_a_cluster_pushes_an_image_and_tears_it_down()
    {
        using var docker = await ConnectOrSkipAsync();
        var record = Path.Combine(_root, "record.jsonl");
        string? container = null;
        try
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _root };
            foreach (var arg in new[] { FakeBuildDll(), "--target", "Inspect", "--kubedind-no-mirror", "--root", _root, "--no-logo" })
            {
                start.ArgumentList.Add(arg);
            }

            start.Environment["KUBEDIND_FAKE_REAL"] = "1";
            start.Environment["KUBEDIND_FAKE_RECORD"] = record;
            start.Environment["KUBEDIND_FAKE_IMAGE"] = _image;
            start.Environment["KUBEDIND_FAKE_CONTEXT"] = Path.Combine(_root, "context");
            start.Environment["NUKE_TELEMETRY_OPTOUT"] = "1";
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(8));
            await process.WaitForExitAsync(timeout.Token);
            var output = await stdout + await stderr;

            var inspect = File.Exists(record)
                ? File.ReadAllLines(record).Select(l => JsonDocument.Parse(l).RootElement).Single(e => e.GetProperty("step").GetString() == "Inspect").GetProperty("payload")
                : throw new Xunit.Sdk.XunitException("the build recorded nothing:\n" + output);
            container = inspect.GetProperty("container").GetString();

            Assert.True(process.ExitCode == 0, output);
            Assert.StartsWith("kubedind-", inspect.GetProperty("name").GetString());
            Assert.StartsWith("127.0.0.1:", inspect.GetProperty("registry").GetString());
            Assert.EndsWith(_image.Split(':')[0] + ":test", inspect.GetProperty("pushed").GetProperty(_image).GetString());
            Assert.Contains("Teardown", output);

            var left = await docker.Containers.ListContainersAsync(
                new ContainersListParameters { All = true, Filters = new Dictionary<string, IDictionary<string, bool>> { ["id"] = new Dictionary<string, bool> { [container!] = true } } },
                TestContext.Current.CancellationToken);
            Assert.Empty(left);
        }
        finally
        {
            if (container is not null)
            {
                try
                {
                    await docker.Containers.RemoveContainerAsync(container, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
                }
                catch (DockerContainerNotFoundException)
                {
                }
            }

            try
            {
                await new global::KubeDind.Docker.ImageStore(docker, global::KubeDind.Logging.NullKubeDindLog.Instance).RemoveAsync(_image, force: true, CancellationToken.None);
            }
            catch (DockerImageNotFoundException)
            {
            }
        }
    }

    /// <summary>
    /// Skips only where no engine is configured at all (no DOCKER_HOST and no socket file at the default path); an engine
    /// that is configured but does not answer fails the test, since that is a broken environment, not a missing one.
    /// </summary>
    private static async Task<DockerClient> ConnectOrSkipAsync()
    {
        const string DefaultSocket = "/var/run/docker.sock";
        var dockerHost = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (string.IsNullOrEmpty(dockerHost) && !File.Exists(DefaultSocket))
        {
            Assert.Skip($"no Docker engine is configured (DOCKER_HOST is unset and {DefaultSocket} does not exist); the Docker-backed Nuke component test needs one.");
        }

        var endpoint = string.IsNullOrEmpty(dockerHost) ? "unix://" + DefaultSocket : dockerHost;
        var docker = new DockerClientConfiguration(new Uri(endpoint)).CreateClient();
        try
        {
            await docker.System.PingAsync(TestContext.Current.CancellationToken);
            return docker;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            docker.Dispose();
            throw new InvalidOperationException($"the Docker engine at {endpoint} is configured but does not answer a ping ({exception.Message}); fix the engine or unset DOCKER_HOST.", exception);
        }
    }

    private static string FakeBuildDll()
    {
        var directory = typeof(DockerBackedTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "FakeBuildDirectory").Value!;
        return Path.Combine(directory, "Nuke.KubeDind.FakeBuild.dll");
    }
}
