using System.Diagnostics;
using System.Reflection;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Faults;

/// <summary>
/// The owning process killed with SIGKILL mid-run (a real build process: KubeDind.OrphanOwner starts a cluster
/// through the core and is killed): the next Sweep removes its orphaned cluster, found by labels, while the cluster
/// of an owner still alive is left alone.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class OrphanTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string OwnerAssembly =>
        typeof(OrphanTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "OrphanOwnerAssembly").Value!;

    [Fact]
    public async Task A_SIGKILLed_owners_cluster_is_swept_and_a_live_owners_cluster_is_untouched()
    {
        using var session = await KubeDindSession.ConnectAsync(new CapturingLog(), cancellationToken: Ct);
        var artifacts = FaultSupport.TemporaryDirectory("orphan");
        var killedName = ClusterTestSupport.UniqueName("orphan-killed");
        var aliveName = ClusterTestSupport.UniqueName("orphan-alive");
        using var killed = StartOwner(killedName, artifacts);
        using var alive = StartOwner(aliveName, artifacts);
        try
        {
            var (killedId, aliveId) = (await ReadyAsync(killed, killedName), await ReadyAsync(alive, aliveName));
            var labels = (await session.Docker.Containers.InspectContainerAsync(killedId, Ct)).Config.Labels;
            Assert.Equal(killed.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), labels[KubeDindLabels.OwnerPid]);

            killed.Kill(); // SIGKILL: no finally, no dispose, no Teardown runs in the owner
            await killed.WaitForExitAsync(Ct);
            output.WriteLine($"owner {killed.Id} killed (exit {killed.ExitCode}); its cluster {killedName} is an orphan");
            Assert.True(await RunningAsync(session, killedId), "the orphan still runs before the sweep");

            var result = await session.SweepAsync(cancellationToken: Ct);
            output.WriteLine($"sweep removed: {string.Join(", ", result.RemovedContainers)}");

            Assert.Contains(killedName, result.RemovedContainers);
            Assert.DoesNotContain(aliveName, result.RemovedContainers);
            Assert.False(await ExistsAsync(session, killedId));
            Assert.True(await RunningAsync(session, aliveId), "the live owner's cluster was touched");
            var orphanVolumes = await session.Docker.Volumes.ListAsync(
                new VolumesListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["label"] = new Dictionary<string, bool> { [$"{KubeDindLabels.Cluster}={killedName}"] = true } } }, Ct);
            Assert.Empty(orphanVolumes.Volumes ?? []);
        }
        finally
        {
            foreach (var owner in new[] { killed, alive })
            {
                if (!owner.HasExited)
                {
                    owner.Kill();
                }
            }

            foreach (var name in new[] { killedName, aliveName })
            {
                await RemoveAsync(session, name);
            }

            Directory.Delete(artifacts, recursive: true);
        }
    }

    private static Process StartOwner(string name, string artifacts)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { OwnerAssembly, name, artifacts })
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
    }

    /// <summary>The owner's cluster container id, once it prints "ready &lt;id&gt;".</summary>
    private async Task<string> ReadyAsync(Process owner, string name)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        while (await owner.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            output.WriteLine($"{name}: {line}");
            if (line.StartsWith("ready ", StringComparison.Ordinal))
            {
                return line["ready ".Length..].Trim();
            }
        }

        throw new InvalidOperationException($"the owner of {name} exited ({(owner.HasExited ? owner.ExitCode : -1)}) without a cluster: {await owner.StandardError.ReadToEndAsync(Ct)}");
    }

    private static async Task<bool> ExistsAsync(KubeDindSession session, string id) =>
        (await session.Docker.Containers.ListContainersAsync(new ContainersListParameters { All = true }, Ct)).Any(c => c.ID == id);

    private static async Task<bool> RunningAsync(KubeDindSession session, string id) =>
        (await session.Docker.Containers.ListContainersAsync(new ContainersListParameters(), Ct)).Any(c => c.ID == id);

    private static async Task RemoveAsync(KubeDindSession session, string name)
    {
        try
        {
            await session.Docker.Containers.RemoveContainerAsync(name, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, CancellationToken.None);
        }
        catch (DockerApiException)
        {
        }
    }
}
