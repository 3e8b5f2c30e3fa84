using System.Formats.Tar;
using Docker.DotNet.Models;
using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Image;

/// <summary>
/// k3s binaries the image build must judge right: a dynamically linked one whose libraries the final image has
/// (libsqlite3, as a k3s built against the system SQLite needs) works; one needing a library the image lacks fails
/// with the loader's own words; one for another architecture is refused before any build.
/// </summary>
[Collection(ImageCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class K3sBinaryInputTests(ImageFixture fixture, ITestOutputHelper output)
{
    // The image's pause stage runs exactly this, so the engine's build cache serves it without a download.
    private const string GccStage =
        "RUN apt-get update \\\n"
        + " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev \\\n"
        + " && rm -rf /var/lib/apt/lists/*\n";

    private const string FakeK3s = """
        #include <stdio.h>
        int sqlite3_libversion_number(void);
        int main(void) { printf("k3s version v1.30.0+k3s1 (fake, dynamically linked, library %d)\n", sqlite3_libversion_number()); return 0; }
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_dynamically_linked_k3s_whose_libraries_the_image_has_builds()
    {
        var (withSqlite, _) = await BuildFakesAsync();
        var tag = $"kdt-image/dynamic-k3s:{Guid.NewGuid():N}";
        try
        {
            var image = await ClusterImage.EnsureAsync(fixture.Session, new ClusterImageSettings { K3sBinary = withSqlite, Tag = tag }, Ct);
            output.WriteLine(image.Describe());
            Assert.Equal("v1.30.0+k3s1", image.K3sVersion);
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(fixture.Session, tag);
            DeleteFakes(withSqlite);
        }
    }

    [Fact]
    public async Task A_dynamically_linked_k3s_missing_a_library_fails_with_the_loaders_error()
    {
        var (_, withMissing) = await BuildFakesAsync();
        var tag = $"kdt-image/never:{Guid.NewGuid():N}";
        var error = await Assert.ThrowsAsync<KubeDindException>(() => ClusterImage.EnsureAsync(fixture.Session, new ClusterImageSettings { K3sBinary = withMissing, Tag = tag }, Ct));
        DeleteFakes(withMissing);
        output.WriteLine(error.Message);
        Assert.Contains("error while loading shared libraries: libkdtmissing.so.1", error.Message);
        Assert.DoesNotContain("printed 'nothing'", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task A_k3s_for_another_architecture_is_refused_before_any_build()
    {
        var engine = (await fixture.Session.Docker.System.GetSystemInfoAsync(Ct)).Architecture;
        var (machine, name) = engine == "aarch64" ? ((byte)0x3E, "x86_64") : ((byte)0xB7, "aarch64");
        var file = Path.Combine(Path.GetTempPath(), ClusterTestSupport.UniqueName("k3s-arch"));
        var header = new byte[64];
        header[0] = 0x7F;
        header[1] = (byte)'E';
        header[2] = (byte)'L';
        header[3] = (byte)'F';
        header[4] = 2; // 64-bit
        header[5] = 1; // little endian
        header[6] = 1;
        header[16] = 2; // executable
        header[18] = machine;
        await File.WriteAllBytesAsync(file, header, Ct);
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            var error = await Assert.ThrowsAsync<KubeDindException>(() => ClusterImage.EnsureAsync(fixture.Session, new ClusterImageSettings { K3sBinary = file, Tag = "kdt-image/never:1" }, Ct));
            output.WriteLine(error.Message);
            Assert.Equal($"kube-dind image: k3s binary '{file}' is built for {name} but the Docker engine runs {engine}; pass a k3s built for {engine}.", error.Message);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static void DeleteFakes(string oneOfThem) => Directory.Delete(Path.GetDirectoryName(Path.GetDirectoryName(oneOfThem))!, recursive: true);

    /// <summary>Compiles two fake k3s binaries on the offline base image: one linked to libsqlite3.so.0, one to a library no image has.</summary>
    private async Task<(string WithSqlite, string WithMissing)> BuildFakesAsync()
    {
        var baseImage = await new BaseImage(fixture.Session.Docker, fixture.Session.Log).EnsureAsync(Ct);
        var tag = $"kdt-image/fake-k3s:{Guid.NewGuid():N}";
        var context = new BuildContext()
            .AddText("fake.c", FakeK3s)
            .AddText("stub.c", "int sqlite3_libversion_number(void) { return 3; }\n")
            .AddText(
                "Dockerfile",
                $"FROM {baseImage}\n{GccStage}COPY fake.c stub.c /src/\nWORKDIR /src\n"
                + "RUN gcc -shared -fPIC -Wl,-soname,libsqlite3.so.0 -o libsqlite3.so stub.c && gcc -o k3s-sqlite fake.c -L. -lsqlite3 \\\n"
                + " && gcc -shared -fPIC -Wl,-soname,libkdtmissing.so.1 -o libkdtmissing.so stub.c && gcc -o k3s-missing fake.c -L. -lkdtmissing\n");
        await new ImageStore(fixture.Session.Docker, fixture.Session.Log).BuildAsync(context, tag, new Dictionary<string, string>(), new Dictionary<string, string>(), Ct);
        var directory = Path.Combine(Path.GetTempPath(), ClusterTestSupport.UniqueName("fake-k3s"));
        Directory.CreateDirectory(directory);
        var container = await fixture.Session.Docker.Containers.CreateContainerAsync(new CreateContainerParameters { Image = tag, Entrypoint = ["/bin/true"] }, Ct);
        try
        {
            foreach (var binary in new[] { "k3s-sqlite", "k3s-missing" })
            {
                var archive = await fixture.Session.Docker.Containers.GetArchiveFromContainerAsync(container.ID, new GetArchiveFromContainerParameters { Path = "/src/" + binary }, false, Ct);
                using var buffer = new MemoryStream();
                await using (archive.Stream)
                {
                    await archive.Stream.CopyToAsync(buffer, Ct);
                }

                buffer.Position = 0;
                using var reader = new TarReader(buffer);
                var entry = await reader.GetNextEntryAsync(copyData: true, Ct) ?? throw new InvalidOperationException($"no {binary} in the archive");
                var path = Path.Combine(directory, binary, "k3s");
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await entry.ExtractToFileAsync(path, overwrite: true, Ct);
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
        finally
        {
            await fixture.Session.Docker.Containers.RemoveContainerAsync(container.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
            await ClusterTestSupport.RemoveImageAsync(fixture.Session, tag);
        }

        return (Path.Combine(directory, "k3s-sqlite", "k3s"), Path.Combine(directory, "k3s-missing", "k3s"));
    }
}
