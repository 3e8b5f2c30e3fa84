using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Tests.Cluster;
using KubeDind.Tests.Faults;

namespace KubeDind.Tests.Security;

/// <summary>
/// What KubeDind did not create is never modified or removed: a container, a volume and a network named like this
/// run's cluster and carrying KubeDind's labels, but owned by another run on another host, survive Sweep and the
/// cluster's Teardown.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ForeignResourceTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Look_alike_resources_of_another_owner_survive_sweep_and_teardown()
    {
        using var session = await KubeDindSession.ConnectAsync(new CapturingLog(), cancellationToken: Ct);
        var artifacts = FaultSupport.TemporaryDirectory("foreign");
        var settings = FaultSupport.ComposeSettings("foreign", artifacts);
        var clusterName = settings.Name!;

        // Another build's resources: KubeDind's labels, this cluster's name in them, another run on another host.
        Dictionary<string, string> Foreign(string role)
        {
            var labels = KubeDindLabels.ForResource(role, "another-run");
            labels[KubeDindLabels.OwnerHost] = "another-build-host";
            labels[KubeDindLabels.OwnerPid] = "1";
            labels[KubeDindLabels.Cluster] = clusterName;
            return labels;
        }

        var container = await session.Docker.Containers.CreateContainerAsync(
            new CreateContainerParameters { Name = clusterName + "-2", Image = "kubedind/base:bookworm", Labels = Foreign(StartCluster.Role), Entrypoint = ["/bin/true"] }, Ct);
        var volume = await session.Docker.Volumes.CreateAsync(new VolumesCreateParameters { Name = clusterName + "-data", Labels = Foreign(StartCluster.Role + "-volume") }, Ct);
        var network = await session.Docker.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = clusterName + "-net", Labels = Foreign(StartCluster.Role + "-network") }, Ct);
        try
        {
            var cluster = await session.StartClusterAsync(settings with { SweepFirst = true }, Ct);
            var swept = await session.SweepAsync(cancellationToken: Ct);
            await cluster.TeardownAsync(cancellationToken: Ct);
            output.WriteLine($"sweep removed: {string.Join(", ", swept.RemovedContainers.Concat(swept.RemovedVolumes))}");

            var inspect = await session.Docker.Containers.InspectContainerAsync(container.ID, Ct);
            Assert.Equal("created", inspect.State.Status);
            Assert.Equal("another-run", inspect.Config.Labels[KubeDindLabels.RunId]);
            Assert.Equal(clusterName, (await session.Docker.Volumes.InspectAsync(volume.Name, Ct)).Labels[KubeDindLabels.Cluster]);
            Assert.Equal(clusterName + "-net", (await session.Docker.Networks.InspectNetworkAsync(network.ID, Ct)).Name);
        }
        finally
        {
            await Quietly(() => session.Docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None));
            await Quietly(() => session.Docker.Volumes.RemoveAsync(volume.Name, force: true, CancellationToken.None));
            await Quietly(() => session.Docker.Networks.DeleteNetworkAsync(network.ID, CancellationToken.None));
            Directory.Delete(artifacts, recursive: true);
        }
    }

    private static async Task Quietly(Func<Task> remove)
    {
        try
        {
            await remove();
        }
        catch (DockerApiException)
        {
        }
    }
}
