using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Logging;
using KubeDind.Mirror;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Mirror;

/// <summary>
/// The mirror under faults: killed in the middle of a pull, and a cache volume that runs out of space. Either way
/// <see cref="KubeDindSession.CheckMirrorAsync"/> names the broken resource in one line, StartMirror brings a killed
/// mirror back, and what was fully cached before is still served afterwards (with the upstream gone).
/// </summary>
[Collection(MirrorCollection.Name)]
public sealed class MirrorFaultTests(MirrorFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private KubeDindSession Session => fixture.Session;

    [Fact]
    public async Task Killed_during_a_pull_it_is_named_in_one_line_and_StartMirror_brings_it_back_with_its_cache()
    {
        await using var resources = new TestResources(fixture);
        var (upstream, tinyRepository, tinyPushed) = await resources.StartUpstreamWithTinyImageAsync();
        var upstreamAuthority = tinyPushed.Split('/')[0];
        var big = await PushRandomImageAsync(resources, upstreamAuthority, 80);

        var name = MirrorFixture.UniqueName("killed");
        resources.Mirror(name);
        var settings = new MirrorSettings { Name = name }.WithOnly(new MirrorRegistry("quay.io", $"http://{upstream}:5000"));
        var mirror = (await Session.StartMirrorAsync(settings, Token)).Registries.Single();
        var authority = new Uri(mirror.HostUrl).Authority;
        var tinyThroughMirror = $"{authority}/{tinyRepository}:1";
        Assert.Null(await resources.PullAsync(tinyThroughMirror));
        await resources.RemoveImageAsync(tinyThroughMirror);

        // Kill the mirror the moment the engine reports the big layer.
        var bigThroughMirror = $"{authority}/{big}";
        resources.Image(bigThroughMirror);
        var killed = 0;
        var progress = new KillOnProgress(() =>
        {
            if (Interlocked.Exchange(ref killed, 1) == 0)
            {
                fixture.Docker.Containers.KillContainerAsync(mirror.ContainerId, new ContainerKillParameters { Signal = "SIGKILL" }, CancellationToken.None).GetAwaiter().GetResult();
            }
        });
        var (repository, tag) = ImageReference.SplitTag(bigThroughMirror);
        string? error = null;

        // The engine retries a refused download for more than a minute before it gives up: 10 s show it failing.
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(Token);
        patience.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await fixture.Docker.Images.CreateImageAsync(new ImagesCreateParameters { FromImage = repository, Tag = tag }, null, progress, patience.Token);
            error = progress.Error;
        }
        catch (global::Docker.DotNet.DockerApiException ex)
        {
            error = DockerEngine.FirstLine(ex);
        }
        catch (OperationCanceledException) when (!Token.IsCancellationRequested)
        {
            error = progress.Error ?? "(still retrying after 10 s)";
        }

        output.WriteLine($"pull while the mirror was killed: {error ?? "(succeeded)"}");
        Assert.Equal(1, killed);
        Assert.NotNull(error);
        Assert.False(await new ImageStore(fixture.Docker, Session.Log).ExistsAsync(bigThroughMirror, Token), "the pull completed although the mirror was killed");
        var problem = await Session.CheckMirrorAsync(mirror.Name, Token);
        output.WriteLine($"mirror check: {problem}");
        Assert.NotNull(problem);
        Assert.Contains($"mirror {mirror.Name}: its container is exited", problem);
        Assert.DoesNotContain('\n', problem);

        var back = (await Session.StartMirrorAsync(settings, Token)).Registries.Single();
        Assert.True((await fixture.Docker.Containers.InspectContainerAsync(back.ContainerId, Token)).State.Running);
        Assert.Equal(mirror.HostUrl, back.HostUrl);
        Assert.Null(await Session.CheckMirrorAsync(back.Name, Token));

        // What was fully cached is served with the upstream gone.
        await fixture.Docker.Containers.StopContainerAsync(upstream, new ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Token);
        Assert.Null(await resources.PullAsync(tinyThroughMirror));
    }

    [Fact]
    public async Task A_full_cache_volume_is_named_in_one_line_and_what_was_cached_stays_served()
    {
        await using var resources = new TestResources(fixture);
        var (upstream, tinyRepository, tinyPushed) = await resources.StartUpstreamWithTinyImageAsync();
        var big = await PushRandomImageAsync(resources, tinyPushed.Split('/')[0], 4);

        // A 2 MiB tmpfs volume as the cache: room for the tiny image, not for the 4 MB one.
        var volume = MirrorFixture.UniqueName("small-cache");
        resources.Volume(volume);
        await fixture.Docker.Volumes.CreateAsync(
            new VolumesCreateParameters { Name = volume, Driver = "local", DriverOpts = new Dictionary<string, string> { ["type"] = "tmpfs", ["device"] = "tmpfs", ["o"] = "size=2m" } }, Token);

        var name = MirrorFixture.UniqueName("full");
        var log = new CapturingLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Token);
        var settings = new MirrorSettings { Name = name }.WithOnly(new MirrorRegistry("quay.io", $"http://{upstream}:5000") { CacheVolume = volume });
        var mirror = (await session.StartMirrorAsync(settings, Token)).Registries.Single();
        resources.Container(mirror.Name); // not Mirror(name): StopMirror rightly refuses to remove a cache volume it did not create
        var authority = new Uri(mirror.HostUrl).Authority;
        var tinyThroughMirror = $"{authority}/{tinyRepository}:1";
        Assert.Null(await resources.PullAsync(tinyThroughMirror));
        await resources.RemoveImageAsync(tinyThroughMirror);

        // The registry streams the layer to the engine while failing to store it: the pull itself may well succeed.
        var error = await resources.PullAsync($"{authority}/{big}");
        output.WriteLine($"pull into a full cache: {error ?? "(succeeded, not cached)"}");
        var problem = await session.CheckMirrorAsync(mirror.Name, Token);
        output.WriteLine($"mirror check: {problem ?? "(no problem found)"}");

        Assert.NotNull(problem);
        Assert.Contains(volume, problem);
        Assert.Contains("full", problem);
        Assert.DoesNotContain('\n', problem);

        // Nothing cached is lost: the tiny image still comes from the cache with the upstream gone.
        await fixture.Docker.Containers.StopContainerAsync(upstream, new ContainerStopParameters { WaitBeforeKillSeconds = 1 }, Token);
        Assert.Null(await resources.PullAsync(tinyThroughMirror));
    }

    /// <summary>Builds a random-data image of <paramref name="megabytes"/> MB, pushes it to the upstream and drops it locally; returns "repo:tag".</summary>
    private static async Task<string> PushRandomImageAsync(TestResources resources, string upstreamAuthority, int megabytes)
    {
        var repositoryAndTag = $"kdt/random-{Guid.NewGuid().ToString("N")[..8]}:1";
        var reference = $"{upstreamAuthority}/{repositoryAndTag}";
        resources.Image(reference);
        await ClusterTestSupport.BuildRandomDataImageAsync(resources.Session, reference, megabytes);
        await resources.PushAsync(reference);
        await resources.RemoveImageAsync(reference);
        return repositoryAndTag;
    }

    private sealed class KillOnProgress(Action kill) : IProgress<JSONMessage>
    {
        public string? Error { get; private set; }

        public void Report(JSONMessage value)
        {
            if (value.Error is not null || !string.IsNullOrEmpty(value.ErrorMessage))
            {
                Error = value.Error?.Message ?? value.ErrorMessage;
            }
            // At the first sign of the layer, not once bytes flow: over loopback an 80 MB layer can finish before a
            // kill issued at "Downloading" lands, and the fault would never be seen.
            else if (value.Status is "Pulling fs layer" or "Waiting" or "Downloading")
            {
                kill();
            }
        }
    }
}
