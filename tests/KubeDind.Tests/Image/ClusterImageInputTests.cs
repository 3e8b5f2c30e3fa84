using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Cluster;
using KubeDind.Docker;

namespace KubeDind.Tests.Image;

/// <summary>Bad inputs to the image build, and the container security settings, each checked without a cluster.</summary>
[Collection(ImageCollection.Name)]
public sealed class ClusterImageInputTests
{
    private readonly ImageFixture _fixture;

    private readonly ITestOutputHelper _output;

    public ClusterImageInputTests(ImageFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
    }

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task MissingK3sFileIsOneClearLine()
    {
        var ex = await Assert.ThrowsAsync<KubeDindException>(() => ClusterImage.EnsureAsync(_fixture.Session, new ClusterImageSettings { K3sBinary = "/no/such/k3s", Tag = "kdt-image/never:1" }, Cancel));
        Assert.Equal("kube-dind image: k3s binary '/no/such/k3s' does not exist; pass the path of a k3s v1.21+ binary, or none for compose mode.", ex.Message);
    }

    [Fact]
    public async Task FileThatIsNoExecutableIsOneClearLine()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, "#!/bin/sh\necho k3s version v1.30.0+k3s1\n", Cancel);
        try
        {
            var ex = await Assert.ThrowsAsync<KubeDindException>(() => ClusterImage.EnsureAsync(_fixture.Session, new ClusterImageSettings { K3sBinary = file, Tag = "kdt-image/never:1" }, Cancel));
            Assert.Contains("is not an executable k3s", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', ex.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task ExecutableThatIsNotK3sFailsTheBuildWithOneClearLine()
    {
        var ex = await Assert.ThrowsAsync<KubeDindException>(() => ClusterImage.EnsureAsync(_fixture.Session, new ClusterImageSettings { K3sBinary = "/bin/true", Tag = $"kdt-image/never:{Guid.NewGuid():N}" }, Cancel));
        Assert.StartsWith("kube-dind image: the supplied file is not an executable k3s", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public async Task UnreadableAirgapTarballIsOneClearLine()
    {
        var ex = await Assert.ThrowsAsync<KubeDindException>(() => ClusterImage.EnsureAsync(_fixture.Session, new ClusterImageSettings { AirgapImagesTarball = "/no/such/images.tar.zst", Tag = "kdt-image/never:1" }, Cancel));
        Assert.StartsWith("kube-dind image: air-gap images tarball '/no/such/images.tar.zst' is unreadable", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SecondEnsureReusesTheImage()
    {
        var again = await ClusterImage.EnsureAsync(_fixture.Session, new ClusterImageSettings { K3sBinary = ImageFixture.K3sBinary }, Cancel);
        Assert.Equal(_fixture.Image, again);
    }

    [Fact]
    public async Task TwoBuildsWithDifferentInputsGetTwoTagsAndNeitherReplacesTheOther()
    {
        var airgap = await TinyAirgapTarballAsync();
        try
        {
            var compose = await ClusterImage.EnsureAsync(_fixture.Session, new ClusterImageSettings(), Cancel);
            var withAirgap = await ClusterImage.EnsureAsync(_fixture.Session, new ClusterImageSettings { AirgapImagesTarball = airgap }, Cancel);

            Assert.NotEqual(compose.Tag, withAirgap.Tag);
            Assert.Matches(@"^kubedind/kube-dind:[0-9][^-]*(-[^-]+)?-compose-[0-9a-f]{12}$", compose.Tag);
            Assert.NotNull(await Docker.Images.InspectImageAsync(compose.Tag, Cancel)); // the second build left the first alone
            var again = await ClusterImage.EnsureAsync(_fixture.Session, new ClusterImageSettings(), Cancel);
            Assert.Equal(compose.Tag, again.Tag);
            _output.WriteLine($"{compose.Tag}\n{withAirgap.Tag}");
            await RemoveTagAsync(withAirgap.Tag);
        }
        finally
        {
            File.Delete(airgap);
        }
    }

    [Fact]
    public async Task ARebuildUnderOneTagNeverRemovesAnImageAnotherTagStillNames()
    {
        var shared = $"kdt-image/shared:{Guid.NewGuid():N}";
        var otherRun = $"kdt-image/other-run:{Guid.NewGuid():N}";
        var airgap = await TinyAirgapTarballAsync();
        try
        {
            var first = await ClusterImage.EnsureAsync(_fixture.Session, new ClusterImageSettings { Tag = shared }, Cancel);
            var firstId = (await Docker.Images.InspectImageAsync(shared, Cancel)).ID;
            await Docker.Images.TagImageAsync(firstId, new ImageTagParameters { RepositoryName = otherRun.Split(':')[0], Tag = otherRun.Split(':')[1] }, Cancel);

            await ClusterImage.EnsureAsync(_fixture.Session, new ClusterImageSettings { Tag = shared, AirgapImagesTarball = airgap }, Cancel);

            Assert.NotEqual(firstId, (await Docker.Images.InspectImageAsync(shared, Cancel)).ID);
            Assert.Equal(firstId, (await Docker.Images.InspectImageAsync(otherRun, Cancel)).ID);
            Assert.Equal(shared, first.Tag);
        }
        finally
        {
            File.Delete(airgap);
            await RemoveTagAsync(otherRun);
            await RemoveTagAsync(shared);
        }
    }

    private IDockerClient Docker => _fixture.Session.Docker;

    /// <summary>A valid .tar that stands in for the air-gap images: only its bytes matter to the image's inputs.</summary>
    private static async Task<string> TinyAirgapTarballAsync()
    {
        var path = Path.Combine(Path.GetTempPath(), $"kdt-airgap-{Guid.NewGuid():N}.tar");
        await using (var file = File.Create(path))
        {
            await using var writer = new System.Formats.Tar.TarWriter(file);
            var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, "manifest.json") { DataStream = new MemoryStream("[]"u8.ToArray()) };
            await writer.WriteEntryAsync(entry, Cancel);
        }

        return path;
    }

    private async Task RemoveTagAsync(string tag)
    {
        try
        {
            await new ImageStore(Docker, _fixture.Session.Log).RemoveAsync(tag, force: false, CancellationToken.None);
        }
        catch (DockerApiException)
        {
            // in use or already gone: the tag is all this test created
        }
    }

    [Fact]
    public void FallbackGrantsWhatTheEngineCan()
    {
        var host = ClusterContainerSpec.WithPrivileges(new HostConfig(), PrivilegeMode.Fallback, EngineCapabilities.FromMask(0x000001fffeffffff));
        Assert.False(host.Privileged);
        Assert.DoesNotContain("CAP_SYS_RESOURCE", host.CapAdd);
        Assert.Contains("CAP_SYS_ADMIN", host.CapAdd);
        Assert.DoesNotContain("CAP_BPF", host.CapAdd);
        Assert.Contains("seccomp=unconfined", host.SecurityOpt);
        Assert.Empty(host.MaskedPaths);
        Assert.Empty(host.ReadonlyPaths);
        Assert.Equal(["a *:* rwm"], host.DeviceCgroupRules);
        Assert.Equal("/dev/kmsg", Assert.Single(host.Devices).PathOnHost);
        Assert.Equal("private", host.CgroupnsMode);
        Assert.True(host.Tmpfs.ContainsKey("/run"));
        Assert.Equal(ClusterContainerSpec.StateDirectories, host.Mounts.Select(m => m.Target));

        var privileged = ClusterContainerSpec.WithPrivileges(new HostConfig(), PrivilegeMode.Privileged);
        Assert.True(privileged.Privileged);
        Assert.Null(privileged.CapAdd);
    }

    [Fact]
    public void PrivilegeRefusalIsRecognised()
    {
        var refusal = new DockerApiException(System.Net.HttpStatusCode.InternalServerError, "{\"message\":\"failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown\"}");
        var other = new DockerApiException(System.Net.HttpStatusCode.InternalServerError, "{\"message\":\"driver failed programming external connectivity\"}");
        Assert.True(PrivilegedStarter.IsPrivilegeRefusal(refusal));
        Assert.False(PrivilegedStarter.IsPrivilegeRefusal(other));
    }
}
