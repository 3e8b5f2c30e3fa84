using System.Text.Json;
using KubeDind.Cluster;
using KubeDind.Docker;

namespace KubeDind.Tests.Cluster;

/// <summary>What the core writes for k3s (config.yaml, registries.yaml) and reads back from kubedind-ready.</summary>
public sealed class K3sConfigurationTests
{
    private static readonly ClusterSettings Defaults = new();

    [Fact]
    public void Arguments_become_config_keys_and_values_with_spaces_stay_whole()
    {
        var settings = Defaults with
        {
            K3sArgs = ["--node-label=team=a b", "--kubelet-arg", "v=2", "--kubelet-arg=max-pods=50", "--disable=metrics-server,traefik", "--debug"],
        };

        using var json = JsonDocument.Parse(K3sConfiguration.ConfigJson("c", settings));
        var root = json.RootElement;
        Assert.Equal("team=a b", root.GetProperty("node-label").GetString());
        Assert.Equal(["v=2", "max-pods=50"], root.GetProperty("kubelet-arg").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("true", root.GetProperty("debug").GetString());
        Assert.Equal(["metrics-server", "traefik", "servicelb"], root.GetProperty("disable").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public void Traefik_and_ServiceLB_are_off_unless_asked_for_and_Traefik_brings_ServiceLB()
    {
        static string[] Disabled(ClusterSettings s) =>
            JsonDocument.Parse(K3sConfiguration.ConfigJson("c", s)).RootElement.GetProperty("disable").EnumerateArray().Select(e => e.GetString()!).ToArray();

        Assert.Equal(["traefik", "servicelb"], Disabled(Defaults));
        Assert.Equal(["traefik"], Disabled(Defaults with { ServiceLoadBalancer = true }));
        Assert.Empty(Disabled(Defaults with { Traefik = true }));
    }

    [Theory]
    [InlineData("disable=traefik", "K3sArgs item 'disable=traefik' is not a k3s flag")]
    [InlineData("-v", "K3sArgs item '-v' is not a k3s flag")]
    public void A_bad_argument_is_one_line_naming_it(string arg, string expected)
    {
        var error = Assert.Throws<KubeDindException>(() => K3sConfiguration.Validate("c", Defaults with { K3sArgs = [arg] }));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Registries_name_the_local_registry_docker_io_mirrors_and_other_registries()
    {
        var settings = (Defaults with { MirrorUrls = ["http://kubedind-mirror:5000"] })
            .WithRegistryMirror("docker.io", "http://second:5000")
            .WithRegistryMirror("quay.io", "http://quay-mirror:5000");

        using var json = JsonDocument.Parse(K3sConfiguration.RegistriesJson("c", settings));
        var mirrors = json.RootElement.GetProperty("mirrors");
        string[] Endpoints(string registry) => mirrors.GetProperty(registry).GetProperty("endpoint").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(["http://127.0.0.1:5000"], Endpoints("localhost:5000"));
        Assert.Equal(["http://kubedind-mirror:5000", "http://second:5000"], Endpoints("docker.io"));
        Assert.Equal(["http://quay-mirror:5000"], Endpoints("quay.io"));
    }

    [Theory]
    [InlineData("https://quay.io", "http://m:5000", "RegistryMirrors key 'https://quay.io' is not a registry host")]
    [InlineData("quay.io", "m:5000", "mirror 'm:5000' for quay.io is not an http(s) URL")]
    public void A_bad_mirror_is_one_line_naming_it(string registry, string endpoint, string expected)
    {
        var error = Assert.Throws<KubeDindException>(() => K3sConfiguration.Validate("c", Defaults.WithRegistryMirror(registry, endpoint)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Airgap_images_must_exist_and_be_a_tarball_k3s_imports()
    {
        var missing = Assert.Throws<KubeDindException>(() => K3sConfiguration.Validate("c", Defaults.WithAirgapImages("/nonexistent/k3s-airgap-images-amd64.tar.zst")));
        Assert.Contains("AirgapImages '/nonexistent/k3s-airgap-images-amd64.tar.zst' does not exist", missing.Message, StringComparison.Ordinal);

        var wrong = Assert.Throws<KubeDindException>(() => K3sConfiguration.Validate("c", Defaults.WithAirgapImages("images.zip")));
        Assert.Contains("is not an image tarball KubeDind takes; give k3s-airgap-images-<arch>.tar, .tar.gz, .tgz, .tar.zst or .tzst", wrong.Message, StringComparison.Ordinal);

        // k3s imports .tar.lz4 and .tar.bz2 too, but the image cannot list their images, so it would run a fallback beside them.
        var lz4 = Assert.Throws<KubeDindException>(() => K3sConfiguration.Validate("c", Defaults.WithAirgapImages("/tmp/k3s-airgap-images-amd64.tar.lz4")));
        Assert.Contains("is not an image tarball KubeDind takes", lz4.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_image_lists_the_images_of_every_air_gap_tarball_kind_the_core_takes()
    {
        // airgap_image_names in the image's kubernetes.sh: one case pattern per tarball kind it can read.
        var script = File.ReadAllText(Path.Combine(TestRepository.Root, "image", "rootfs", "usr", "local", "lib", "kubedind", "kubernetes.sh"));
        var reader = script[script.IndexOf("airgap_image_names() {", StringComparison.Ordinal)..];
        reader = reader[..reader.IndexOf("\n}\n", StringComparison.Ordinal)];
        var patterns = System.Text.RegularExpressions.Regex.Matches(reader, @"\*(\.[a-z.]+)").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Equal(AirgapTarball.Suffixes.OrderBy(s => s), patterns.OrderBy(s => s));
    }

    [Fact]
    public void Kubedind_ready_json_is_read_with_its_gates_and_the_image_status()
    {
        const string output = """
            {"status":"waiting","gate":"apiserver","reason":"/readyz: [-]poststarthook/rbac","gates":[{"name":"starting","status":"passed","reason":""},{"name":"dockerd","status":"passed","reason":""},{"name":"registry","status":"passed","reason":""},{"name":"apiserver","status":"waiting","reason":"x"}],"image":{"schemaVersion":1,"role":"server","kubernetes":true,"k3sVersion":"v1.33.7+k3s1","state":{"phase":"running","component":null,"reason":null},"components":[{"role":"dns","implementation":"dnsmasq","fallback":true,"turnedOffByUser":false,"detail":"KubeDind's fallback","pods":[]},{"role":"storage","implementation":"local-path-provisioner","fallback":false,"turnedOffByUser":false,"detail":"air-gap images","pods":["local-path-provisioner"]}]}}
            """;
        var inner = InnerReadiness.Parse(new ExecResult(1, output, string.Empty), "kdt/image:1");
        Assert.False(inner.Ready);
        Assert.False(inner.Failed);
        Assert.True(inner.HasPassed("dockerd"));
        Assert.False(inner.HasPassed("apiserver"));
        Assert.Equal("apiserver waiting: /readyz: [-]poststarthook/rbac", inner.Line);
        Assert.Equal(["dns=dnsmasq (KubeDind fallback)", "storage=local-path-provisioner"], inner.Components.Select(c => c.ToString()));
        Assert.Equal(["local-path-provisioner"], inner.Components.SelectMany(c => c.Pods));
        Assert.Equal("v1.33.7+k3s1", inner.Image!.K3sVersion);

        var old = InnerReadiness.Parse(new ExecResult(2, "failed: registry: gone\n", string.Empty), "kdt/image:1");
        Assert.True(old.Failed);
        Assert.Equal("unknown failed: failed: registry: gone", old.Line);
        Assert.Null(old.Image);
    }

    [Theory]
    [InlineData("app:1", "docker.io/library/app:1")]
    [InlineData("me/app", "docker.io/me/app:latest")]
    [InlineData("localhost:5000/app:2", "localhost:5000/app:2")]
    [InlineData("quay.io/x/y:3", "quay.io/x/y:3")]
    public void References_are_normalized_as_containerd_stores_them(string reference, string expected) =>
        Assert.Equal(expected, ImageReference.Normalize(reference));
}
