using KubeDind.Cluster;
using KubeDind.Mirror;

namespace KubeDind.Tests.Mirror;

/// <summary>The pure parts of the mirror: settings checks, credentials from the environment, log counting, cluster wiring.</summary>
public sealed class MirrorSettingsTests
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public void Defaults_mirror_the_five_common_registries_each_in_its_own_container_and_volume()
    {
        var valid = MirrorValidator.Validate(new MirrorSettings(), NoEnvironment);

        Assert.Equal(["docker.io", "ghcr.io", "quay.io", "registry.k8s.io", "gcr.io"], valid.Registries.Select(r => r.Host));
        Assert.Equal("kubedind-mirror-registry-k8s-io", valid.Registries[3].ContainerName);
        Assert.Equal("kubedind-mirror-docker-io-cache", valid.Registries[0].CacheVolume);
        Assert.Equal("https://registry-1.docker.io", valid.Registries[0].Upstream);
    }

    [Theory]
    [InlineData("https://quay.io", "bad host/x", "registry host 'bad host/x'")]
    [InlineData("https://quay.io", "https://quay.io", "registry host 'https://quay.io'")]
    [InlineData("quay.io", "quay.io", "upstream URL 'quay.io'")]
    public void Rejects_a_bad_registry_naming_it(string upstream, string host, string expected)
    {
        var error = Assert.Throws<KubeDindException>(() => MirrorValidator.Validate(new MirrorSettings().WithOnly(new MirrorRegistry(host, upstream)), NoEnvironment));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Rejects_two_registries_sharing_a_host_or_a_port()
    {
        var hosts = Assert.Throws<KubeDindException>(() => MirrorValidator.Validate(
            new MirrorSettings { Registries = [new("quay.io", "https://quay.io"), new("QUAY.io", "https://other")] }, NoEnvironment));
        var ports = Assert.Throws<KubeDindException>(() => MirrorValidator.Validate(
            new MirrorSettings().WithOnly(new MirrorRegistry("quay.io", "https://quay.io") { HostPort = 5001 }, new MirrorRegistry("ghcr.io", "https://ghcr.io") { HostPort = 5001 }), NoEnvironment));

        Assert.Contains("'quay.io'", hosts.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("host port '5001'", ports.Message, StringComparison.Ordinal);
        Assert.Throws<KubeDindException>(() => MirrorValidator.Validate(new MirrorSettings { Registries = [] }, NoEnvironment));
    }

    [Fact]
    public void Credentials_come_from_settings_first_then_from_the_environment_and_half_of_a_pair_is_an_error()
    {
        var environment = new Dictionary<string, string>
        {
            ["KUBEDIND_MIRROR_DOCKER_IO_USERNAME"] = "hub-user",
            ["KUBEDIND_MIRROR_DOCKER_IO_PASSWORD"] = "hub-pass",
            ["KUBEDIND_MIRROR_GHCR_IO_USERNAME"] = "gh-user",
            ["KUBEDIND_MIRROR_GHCR_IO_TOKEN"] = "gh-token",
            ["KUBEDIND_MIRROR_QUAY_IO_TOKEN"] = "lonely",
        };
        string? Lookup(string name) => environment.GetValueOrDefault(name);
        var settings = new MirrorSettings().WithOnly(MirrorSettings.DefaultRegistries[0], MirrorSettings.DefaultRegistries[1]);

        var valid = MirrorValidator.Validate(settings, Lookup);
        Assert.Equal(new MirrorCredentials("hub-user", "hub-pass"), valid.Registries[0].Credentials);
        Assert.Equal(new MirrorCredentials("gh-user", "gh-token"), valid.Registries[1].Credentials);
        Assert.Equal("KUBEDIND_MIRROR_GHCR_IO_USERNAME and KUBEDIND_MIRROR_GHCR_IO_TOKEN", valid.Registries[1].CredentialsSource);

        var fromSettings = MirrorValidator.Validate(settings.WithCredentials("docker.io", "set-user", "set-pass"), Lookup);
        Assert.Equal(new MirrorCredentials("set-user", "set-pass"), fromSettings.Registries[0].Credentials);

        Assert.Null(MirrorValidator.Validate(settings with { CredentialsFromEnvironment = false }, Lookup).Registries[0].Credentials);

        var half = Assert.Throws<KubeDindException>(() => MirrorValidator.Validate(new MirrorSettings().WithOnly(MirrorSettings.DefaultRegistries[2]), Lookup));
        Assert.Contains("KUBEDIND_MIRROR_QUAY_IO_USERNAME", half.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("lonely", half.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Credentials_never_print()
    {
        var settings = new MirrorSettings().WithCredentials("docker.io", "user", "s3cret-token");

        Assert.DoesNotContain("s3cret-token", settings.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-token", settings.Registries[0].ToString(), StringComparison.Ordinal);
        Assert.Contains("user", settings.Registries[0].Credentials!.ToString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The log is registry 2.8's own, captured from a pull-through mirror (REGISTRY_LOG_FORMATTER=json) that served
    /// org/app:1 twice (first from its upstream, then from its cache) and answered org/missing:1 "manifest unknown";
    /// the access-log lines it writes between the JSON lines are in it too.
    /// </summary>
    [Fact]
    public void Usage_counts_fetched_blobs_as_upstream_the_rest_as_cache_and_names_what_was_not_served()
    {
        var log = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "registry", "proxy-pull-twice-and-missing.log"));

        var usage = MirrorUsageReader.Count(Quay, log, At("2026-12-04T20:00:00Z"));

        Assert.Equal((2, 1019L, 2, 1019L), (usage.BlobsFromUpstream, usage.BytesFromUpstream, usage.BlobsFromCache, usage.BytesFromCache));
        Assert.Equal(["quay.io/org/missing:1"], usage.NotServed);
        var line = Assert.Single(usage.NotServedLines());
        Assert.Contains("cache only", line, StringComparison.Ordinal);
        Assert.Contains("https://quay.io", line, StringComparison.Ordinal);
        Assert.Equal(0, MirrorUsageReader.Count(Quay, log, At("2026-12-04T20:00:49Z")).BlobsFromCache);
    }

    /// <summary>Lines of the capture above with the query containerd adds to a mirror request ("?ns=quay.io").</summary>
    [Fact]
    public void Usage_reads_containerd_requests_by_their_path()
    {
        var log = string.Join(
            '\n',
            """{"http.request.method":"GET","http.request.uri":"/v2/org/app/blobs/sha256:9d1640acb1234b21025d0b44c221ac5c3f19ac8ac820ed34b97d51b84bcf4f34?ns=quay.io","http.response.status":200,"http.response.written":895,"level":"info","msg":"response completed","time":"2026-12-04T20:00:47.567955413Z"}""",
            """{"go.version":"go1.19.8","level":"info","msg":"Adding new scheduler entry for org/app@sha256:9d1640acb1234b21025d0b44c221ac5c3f19ac8ac820ed34b97d51b84bcf4f34 with ttl=167h59m59.999998508s","service":"registry","time":"2026-12-04T20:00:47.591688578Z"}""",
            """{"err.code":"manifest unknown","http.request.method":"GET","http.request.uri":"/v2/org/missing/manifests/1?ns=quay.io","http.response.status":404,"http.response.written":91,"level":"error","msg":"response completed with error","time":"2026-12-04T20:00:48.832687468Z"}""",
            "not json {",
            "{\"msg\": 1}");

        var usage = MirrorUsageReader.Count(Quay, log, At("2026-12-04T20:00:00Z"));

        Assert.Equal((1, 895L, 0), (usage.BlobsFromUpstream, usage.BytesFromUpstream, usage.BlobsFromCache));
        Assert.Equal(["quay.io/org/missing:1"], usage.NotServed);
    }

    private static readonly MirrorEndpoints Quay = new("quay.io", "https://quay.io", "c0ffee", "kubedind-mirror-quay-io", "http://127.0.0.1:1", "http://kubedind-mirror-quay-io:5000", "kubedind", Reused: false, CacheOnly: true);

    private static DateTimeOffset At(string time) => DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void A_cluster_with_the_mirror_pulls_every_covered_registry_through_it_and_dockerd_only_docker_io()
    {
        var mirror = new KubeDindMirror(
            "m",
            [
                new("docker.io", MirrorSettings.DockerHub, "1", "m-docker-io", "http://127.0.0.1:1", "http://m-docker-io:5000", "kubedind", Reused: false),
                new("quay.io", "https://quay.io", "2", "m-quay-io", "http://127.0.0.1:2", "http://m-quay-io:5000", "kubedind", Reused: false, CacheOnly: true),
            ],
            DateTimeOffset.UtcNow);

        var settings = new ClusterSettings().WithMirror(mirror).WithMirror(mirror);

        Assert.Equal(["http://m-docker-io:5000"], settings.MirrorUrls);
        Assert.Equal(["http://m-docker-io:5000"], settings.RegistryMirrors["docker.io"]);
        Assert.Equal(["http://m-quay-io:5000"], settings.RegistryMirrors["quay.io"]);
        Assert.Equal("kubedind", settings.Network);
        Assert.Equal(mirror.Registries[0], mirror.Find("index.docker.io"));
        Assert.Contains("(cache only)", mirror.ToString(), StringComparison.Ordinal);
    }
}
