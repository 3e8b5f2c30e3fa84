using System.Diagnostics;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Cluster;
using KubeDind.Docker;

namespace KubeDind.Tests.Image;

/// <summary>
/// A small stand-in for the cluster step: one kube-dind container on its own test network, started
/// privileged when the engine allows it and with <see cref="ClusterContainerSpec"/>'s fallback otherwise,
/// its registry published on 127.0.0.1. Removed with its volumes (and the network) on dispose.
/// </summary>
internal sealed class KubeDindTestContainer : IAsyncDisposable
{
    private readonly KubeDindSession _session;
    private readonly ITestOutputHelper _output;
    private readonly List<string> _companions = [];

    private KubeDindTestContainer(KubeDindSession session, ITestOutputHelper output, string suffix)
    {
        _session = session;
        _output = output;
        Suffix = suffix;
        Name = $"kdt-image-{suffix}";
        Network = $"kdt-image-{suffix}";
    }

    public string Suffix { get; }

    public string Name { get; }

    public string Network { get; }

    public string Id { get; private set; } = string.Empty;

    public int RegistryPort { get; private set; }

    public PrivilegeMode Mode { get; private set; }

    public static async Task<KubeDindTestContainer> StartAsync(KubeDindSession session, ITestOutputHelper output, string image, IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken, Func<KubeDindTestContainer, Task>? beforeStart = null)
    {
        var container = new KubeDindTestContainer(session, output, Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await session.Docker.Networks.CreateNetworkAsync(
                new NetworksCreateParameters { Name = container.Network, Driver = "bridge", Labels = KubeDindLabels.ForResource("test-network", session.RunId) },
                cancellationToken);
            if (beforeStart is not null)
            {
                await beforeStart(container);
            }

            await container.CreateAndStartAsync(image, environment, cancellationToken);
            return container;
        }
        catch
        {
            await container.DisposeAsync();
            throw;
        }
    }

    private async Task CreateAndStartAsync(string image, IReadOnlyDictionary<string, string> environment, CancellationToken cancellationToken)
    {
        foreach (var mode in new[] { PrivilegeMode.Privileged, PrivilegeMode.Fallback })
        {
            var labels = KubeDindLabels.ForResource("test-cluster", _session.RunId);
            var capabilities = mode == PrivilegeMode.Fallback ? await EngineCapabilities.ReadAsync(_session.Docker, _session.Log, cancellationToken) : null;
            var hostConfig = ClusterContainerSpec.WithPrivileges(
                new HostConfig
                {
                    PortBindings = new Dictionary<string, IList<PortBinding>> { ["5000/tcp"] = [new PortBinding { HostIP = "127.0.0.1", HostPort = string.Empty }] },
                    NetworkMode = Network,
                },
                mode,
                capabilities,
                labels);
            var created = await _session.Docker.Containers.CreateContainerAsync(
                new CreateContainerParameters
                {
                    Image = image,
                    Name = Name,
                    Hostname = Name,
                    Env = environment.Select(kv => $"{kv.Key}={kv.Value}").ToList(),
                    Labels = labels,
                    ExposedPorts = new Dictionary<string, EmptyStruct> { ["5000/tcp"] = default },
                    HostConfig = hostConfig,
                },
                cancellationToken);
            Id = created.ID;
            try
            {
                await _session.Docker.Containers.StartContainerAsync(Id, new ContainerStartParameters(), cancellationToken);
                Mode = mode;
                _output.WriteLine($"started {Name} ({mode})");
                break;
            }
            catch (DockerApiException ex) when (mode == PrivilegeMode.Privileged && PrivilegedStarter.IsPrivilegeRefusal(ex))
            {
                _output.WriteLine($"privileged refused ({DockerEngine.FirstLine(ex)}); retrying with the fallback");
                await RemoveContainerAsync();
            }
        }

        var inspect = await _session.Docker.Containers.InspectContainerAsync(Id, cancellationToken);
        RegistryPort = int.Parse(inspect.NetworkSettings.Ports["5000/tcp"][0].HostPort, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Runs kubedind-ready until it exits 0; fails at once when it reports a failed component (exit 2).</summary>
    public async Task WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var last = string.Empty;
        while (watch.Elapsed < timeout)
        {
            var result = await ExecAsync(["kubedind-ready"], cancellationToken: cancellationToken);
            var line = result.StandardOutput.Trim();
            if (line != last)
            {
                _output.WriteLine($"{watch.Elapsed.TotalSeconds,5:0.0}s kubedind-ready: {line}");
                last = line;
            }

            if (result.ExitCode == 0)
            {
                return;
            }

            if (result.ExitCode == 2)
            {
                Assert.Fail($"{Name} failed to start: {line}\n{await LogsAsync(cancellationToken)}");
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }

        Assert.Fail($"{Name} not ready after {timeout.TotalSeconds:0}s: {last}\n{await LogsAsync(cancellationToken)}");
    }

    public Task<ExecResult> ExecAsync(IReadOnlyList<string> command, string? standardInput = null, CancellationToken cancellationToken = default) =>
        ContainerExec.RunAsync(_session.Docker, Id, command, standardInput is null ? null : new MemoryStream(System.Text.Encoding.UTF8.GetBytes(standardInput)), cancellationToken: cancellationToken);

    /// <summary>Runs a shell script inside and asserts it succeeds; returns its stdout.</summary>
    public async Task<string> ShellAsync(string script, CancellationToken cancellationToken)
    {
        var result = await ExecAsync(["bash", "-euo", "pipefail", "-c", script], cancellationToken: cancellationToken);
        _output.WriteLine($"$ {script.Split('\n')[0]}{(script.Contains('\n', StringComparison.Ordinal) ? " ..." : string.Empty)}\n{result.StandardOutput}{result.StandardError}".TrimEnd());
        Assert.True(result.Succeeded, $"exit {result.ExitCode}: {result.StandardError}{result.StandardOutput}");
        return result.StandardOutput;
    }

    public Task<string> LogsAsync(CancellationToken cancellationToken) => ContainerLogs.TailAsync(_session.Docker, Id, 60, cancellationToken);

    /// <summary>Makes a tiny image inside the inner daemon: the registry and curl binaries with their libraries.</summary>
    public Task MakeToolsImageAsync(string tag, CancellationToken cancellationToken) =>
        ShellAsync(
            $$"""
            files=$( (echo /etc/kubedind/registry.yml; ldd /usr/bin/docker-registry /usr/bin/curl | grep -o '/[^ :]*') | sort -u)
            tar -ch $files 2>/dev/null | docker import -c 'ENTRYPOINT ["/usr/bin/docker-registry", "serve", "/etc/kubedind/registry.yml"]' - {{tag}}
            """,
            cancellationToken);

    private async Task RemoveContainerAsync()
    {
        if (Id.Length == 0)
        {
            return;
        }

        try
        {
            await _session.Docker.Containers.RemoveContainerAsync(Id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
        }
        catch (DockerContainerNotFoundException)
        {
        }

        Id = string.Empty;
    }

    /// <summary>Another container on <see cref="Network"/>, removed (before the network) on dispose.</summary>
    public void AddCompanion(string containerId) => _companions.Add(containerId);

    public async ValueTask DisposeAsync()
    {
        await RemoveContainerAsync();
        foreach (var id in _companions)
        {
            await _session.Docker.Containers.RemoveContainerAsync(id, new ContainerRemoveParameters { Force = true, RemoveVolumes = true });
        }

        try
        {
            await _session.Docker.Networks.DeleteNetworkAsync(Network);
        }
        catch (DockerApiException ex)
        {
            _output.WriteLine($"network {Network} not removed: {DockerEngine.FirstLine(ex)}");
        }
    }
}
