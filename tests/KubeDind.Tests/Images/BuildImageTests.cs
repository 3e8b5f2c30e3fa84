using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Images;
using KubeDind.Tests.Mirror;

namespace KubeDind.Tests.Images;

/// <summary>The core's BuildImage step, which both front ends use: its checks, and a real build on the engine.</summary>
public sealed class BuildImageTests(ITestOutputHelper output) : IDisposable
{
    private readonly ITestOutputHelper _output = output;
    private readonly string _context = Directory.CreateTempSubdirectory("kdt-build-").FullName;

    public void Dispose() => Directory.Delete(_context, recursive: true);

    [Fact]
    public void Each_bad_input_is_one_line_naming_it()
    {
        Assert.Contains("no Tag", Assert.Throws<KubeDindException>(() => BuildImage.Validate(new KubeDindImage { ContextDirectory = _context })).Message, StringComparison.Ordinal);
        Assert.Contains("no ContextDirectory", Assert.Throws<KubeDindException>(() => BuildImage.Validate(new KubeDindImage { Tag = "t:1" })).Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Throws<KubeDindException>(() => BuildImage.Validate(new KubeDindImage { Tag = "t:1", ContextDirectory = _context + "-missing" })).Message, StringComparison.Ordinal);
        var noDockerfile = Assert.Throws<KubeDindException>(() => BuildImage.Validate(new KubeDindImage { Tag = "t:1", ContextDirectory = _context }));
        Assert.Contains("no Dockerfile", noDockerfile.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', noDockerfile.Message);
    }

    [Fact]
    public async Task Builds_from_a_directory_with_a_Dockerfile_outside_it_and_the_given_labels()
    {
        File.WriteAllText(Path.Combine(_context, "hello.txt"), "hello\n");
        File.WriteAllBytes(Path.Combine(_context, "payload.bin"), new byte[2 * 1048576]);
        var dockerfile = Path.Combine(_context + "-Dockerfile");
        File.WriteAllText(dockerfile, "FROM scratch\nARG GREETING\nLABEL greeting=$GREETING\nCOPY hello.txt /hello.txt\n");
        var tag = $"kdt-build-{Guid.NewGuid().ToString("N")[..8]}:1";
        var log = new TestLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: TestContext.Current.CancellationToken);
        try
        {
            var built = await session.BuildImageAsync(
                new KubeDindImage
                {
                    ContextDirectory = _context,
                    Dockerfile = dockerfile,
                    Tag = tag,
                    BuildArgs = new Dictionary<string, string> { ["GREETING"] = "hi" },
                    Labels = new Dictionary<string, string> { ["team"] = "qa" },
                    BaseImageBuildArg = null,
                },
                TestContext.Current.CancellationToken);

            Assert.Equal(tag, built);
            var labels = (await session.Docker.Images.InspectImageAsync(tag, TestContext.Current.CancellationToken)).Config.Labels;
            Assert.Equal("qa", labels["team"]);
            Assert.Equal("hi", labels["greeting"]);
            Assert.DoesNotContain(labels.Keys, k => k.StartsWith("io.kubedind", StringComparison.Ordinal));

            // The upload of the context is progress too: its bytes and rate (the engine's own stream reports only steps).
            Assert.Contains(log.Lines, l => System.Text.RegularExpressions.Regex.IsMatch(l.Message, $@"^build {System.Text.RegularExpressions.Regex.Escape(tag)}: context of 2\.0 MiB in [0-9.]+s \([0-9.]+ MiB/s\)$"));
        }
        finally
        {
            File.Delete(dockerfile);
            await new ImageStore(session.Docker, session.Log).RemoveAsync(tag, force: true, CancellationToken.None);
        }
    }

    [Fact]
    public async Task A_multi_stage_build_and_a_rebuilt_tag_leave_no_untagged_image_behind()
    {
        var ct = TestContext.Current.CancellationToken;
        using var session = await KubeDindSession.ConnectAsync(new TestLog(), cancellationToken: ct);
        var tag = $"kdt-build-stages-{Guid.NewGuid().ToString("N")[..8]}:1";
        async Task<string> BuildAsync(string marker)
        {
            // The first stage's own step (unique per build) leaves its image untagged after the build, as the classic builder does.
            File.WriteAllText(Path.Combine(_context, "Dockerfile"), $"FROM scratch AS source\nCOPY hello.txt /hello.txt\nLABEL stage=\"{marker}\"\nFROM scratch\nCOPY --from=source /hello.txt /copied.txt\nLABEL marker=\"{marker}\"\n");
            await session.BuildImageAsync(new KubeDindImage { ContextDirectory = _context, Tag = tag, BaseImageBuildArg = null }, ct);
            return (await session.Docker.Images.InspectImageAsync(tag, ct)).ID;
        }

        File.WriteAllText(Path.Combine(_context, "hello.txt"), "hello\n");
        try
        {
            var firstMarker = Guid.NewGuid().ToString("N");
            var first = await BuildAsync(firstMarker);
            Assert.Empty(await UntaggedAsync(session, firstMarker));

            var secondMarker = Guid.NewGuid().ToString("N");
            var second = await BuildAsync(secondMarker);
            Assert.NotEqual(first, second);
            Assert.Empty(await UntaggedAsync(session, secondMarker));
            await Assert.ThrowsAsync<global::Docker.DotNet.DockerImageNotFoundException>(() => session.Docker.Images.InspectImageAsync(first, ct));
        }
        finally
        {
            await new ImageStore(session.Docker, session.Log).RemoveAsync(tag, force: false, CancellationToken.None);
        }
    }

    [Fact]
    public async Task An_unchanged_build_is_skipped_and_a_change_of_the_context_or_the_base_image_builds_again()
    {
        var ct = TestContext.Current.CancellationToken;
        var log = new TestLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: ct);
        var id = Guid.NewGuid().ToString("N")[..8];
        var (tag, baseTag) = ($"kdt-build-skip-{id}:1", $"kdt-build-skip-base-{id}:1");
        var baseContext = Directory.CreateTempSubdirectory("kdt-build-base-").FullName;
        var images = new ImageStore(session.Docker, session.Log);
        async Task BuildBaseAsync(string content)
        {
            File.WriteAllText(Path.Combine(baseContext, "base.txt"), content);
            File.WriteAllText(Path.Combine(baseContext, "Dockerfile"), "FROM scratch\nCOPY base.txt /base.txt\n");
            await session.BuildImageAsync(new KubeDindImage { ContextDirectory = baseContext, Tag = baseTag, BaseImageBuildArg = null }, ct);
        }

        async Task<string> BuildAppAsync()
        {
            await session.BuildImageAsync(new KubeDindImage { ContextDirectory = _context, Tag = tag, BuildArgs = new Dictionary<string, string> { ["BASE"] = baseTag }, BaseImageBuildArg = null }, ct);
            return (await session.Docker.Images.InspectImageAsync(tag, ct)).ID;
        }

        int Builds() => log.Lines.Count(l => l.Message == $"building image {tag}");

        File.WriteAllText(Path.Combine(_context, "hello.txt"), "hello\n");
        File.WriteAllText(Path.Combine(_context, "Dockerfile"), "ARG BASE\nFROM ${BASE}\nCOPY hello.txt /hello.txt\n");
        try
        {
            await BuildBaseAsync("one\n");
            var first = await BuildAppAsync();

            Assert.Equal(first, await BuildAppAsync());
            Assert.Equal(1, Builds());
            Assert.Contains(log.Lines, l => l.Message == $"image {tag}: already built from this context, Dockerfile, build arguments and base images; not built again");

            File.WriteAllText(Path.Combine(_context, "hello.txt"), "hello again\n");
            var changedContext = await BuildAppAsync();
            Assert.NotEqual(first, changedContext);
            Assert.Equal(2, Builds());

            await BuildBaseAsync("two\n");
            Assert.NotEqual(changedContext, await BuildAppAsync());
            Assert.Equal(3, Builds());
        }
        finally
        {
            await images.RemoveAsync(tag, force: true, CancellationToken.None);
            await images.RemoveAsync(baseTag, force: true, CancellationToken.None);
            Directory.Delete(baseContext, recursive: true);
        }
    }

    [Fact]
    public async Task A_failed_build_leaves_no_untagged_image_of_the_steps_it_finished()
    {
        var ct = TestContext.Current.CancellationToken;
        using var session = await KubeDindSession.ConnectAsync(new TestLog(), cancellationToken: ct);
        var tag = $"kdt-build-failed-{Guid.NewGuid().ToString("N")[..8]}:1";
        var marker = Guid.NewGuid().ToString("N");
        File.WriteAllText(Path.Combine(_context, "hello.txt"), "hello\n");
        File.WriteAllText(Path.Combine(_context, "Dockerfile"), $"FROM scratch AS source\nCOPY hello.txt /hello.txt\nLABEL stage=\"{marker}\"\nFROM scratch\nCOPY --from=source /not-there.txt /copied.txt\n");

        var ex = await Assert.ThrowsAsync<KubeDindException>(() => session.BuildImageAsync(new KubeDindImage { ContextDirectory = _context, Tag = tag, BaseImageBuildArg = null }, ct));

        _output.WriteLine(ex.Message);
        Assert.Empty(await UntaggedAsync(session, marker));
        Assert.False(await new ImageStore(session.Docker, session.Log).ExistsAsync(tag, ct));
    }

    /// <summary>The untagged images of one build (its stage's label carries the build's marker).</summary>
    private static async Task<List<string>> UntaggedAsync(KubeDindSession session, string marker) =>
        (await session.Docker.Images.ListImagesAsync(
            new ImagesListParameters { Filters = new Dictionary<string, IDictionary<string, bool>> { ["dangling"] = new Dictionary<string, bool> { ["true"] = true }, ["label"] = new Dictionary<string, bool> { [$"stage={marker}"] = true } } },
            CancellationToken.None))
            .Select(i => i.ID)
            .ToList();
}
