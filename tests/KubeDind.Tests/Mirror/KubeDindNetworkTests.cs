using KubeDind.Docker;
using KubeDind.Networking;

namespace KubeDind.Tests.Mirror;

[Collection(MirrorCollection.Name)]
public sealed class KubeDindNetworkTests
{
    private readonly MirrorFixture _fixture;

    public KubeDindNetworkTests(MirrorFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task Creates_a_labelled_bridge_once_and_then_finds_it()
    {
        var token = TestContext.Current.CancellationToken;
        var name = MirrorFixture.UniqueName("net");
        try
        {
            var created = await KubeDindNetwork.EnsureAsync(_fixture.Session, name, token);
            var again = await KubeDindNetwork.EnsureAsync(_fixture.Session, name, token);

            Assert.Equal(created, again);
            var network = await _fixture.Docker.Networks.InspectNetworkAsync(created, token);
            Assert.Equal("bridge", network.Driver);
            Assert.True(KubeDindLabels.IsOwned(network.Labels));
            Assert.Equal(KubeDindNetwork.Role, network.Labels[KubeDindLabels.Role]);
            Assert.Equal(_fixture.Session.RunId, network.Labels[KubeDindLabels.RunId]);
        }
        finally
        {
            if (await KubeDindNetwork.FindAsync(_fixture.Docker, name, CancellationToken.None) is { } network)
            {
                await _fixture.Docker.Networks.DeleteNetworkAsync(network.ID, CancellationToken.None);
            }
        }
    }
}
