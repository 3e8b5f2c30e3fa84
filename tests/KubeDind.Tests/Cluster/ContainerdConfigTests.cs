using System.Text.RegularExpressions;
using KubeDind.Cluster;
using Tomlyn;
using Tomlyn.Model;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// The containerd configuration template for each k3s: the file k3s reads and the keys that k3s's containerd
/// documents (containerd's docs/cri/config.md: release/1.4 to 1.7 for version 2, 2.0 for version 3). The template is
/// filled in the way k3s fills it (sample node values, no registries) and parsed as TOML, as containerd parses it.
/// </summary>
public sealed class ContainerdConfigTests
{
    private const string V2Cri = "io.containerd.grpc.v1.cri";
    private const string V3Runtime = "io.containerd.cri.v1.runtime";
    private const string V3Images = "io.containerd.cri.v1.images";

    // Keys each table may hold, as containerd's CRI config documentation lists them (the subset a KubeDind file uses).
    private static readonly Dictionary<string, string[]> Version2Keys = new()
    {
        [V2Cri] = ["stream_server_address", "stream_server_port", "enable_selinux", "sandbox_image", "restrict_oom_score_adj", "containerd", "cni", "registry"],
        [$"{V2Cri}.containerd"] = ["snapshotter", "disable_snapshot_annotations", "runtimes", "default_runtime_name"],
        [$"{V2Cri}.cni"] = ["bin_dir", "conf_dir"],
    };

    private static readonly Dictionary<string, string[]> Version3Keys = new()
    {
        [V2Cri] = ["stream_server_address", "stream_server_port", "disable_tcp_service", "enable_tls_streaming"],
        [V3Runtime] = ["enable_selinux", "restrict_oom_score_adj", "containerd", "cni"],
        [$"{V3Runtime}.cni"] = ["bin_dir", "bin_dirs", "conf_dir"],
        [V3Images] = ["snapshotter", "disable_snapshot_annotations", "pinned_images", "registry"],
        [$"{V3Images}.pinned_images"] = ["sandbox"],
        [$"{V3Images}.registry"] = ["config_path"],
    };

    [Theory]
    [InlineData("v1.21.2+k3s1", 2)]
    [InlineData("v1.27.16+k3s1", 2)]
    [InlineData("v1.31.5+k3s1", 2)]
    [InlineData("v1.31.6+k3s1", 3)]
    [InlineData("v1.32.1+k3s1", 2)]
    [InlineData("v1.32.2+k3s1", 3)]
    [InlineData("v1.33.7+k3s1", 3)]
    [InlineData("v1.34.1+k3s1", 3)]
    [InlineData("unreadable", 2)]
    public void The_config_version_follows_the_containerd_inside_k3s(string k3sVersion, int expected) =>
        Assert.Equal(expected, ContainerdConfig.ConfigVersionFor(k3sVersion));

    [Theory]
    [InlineData("v1.21.2+k3s1")]
    [InlineData("v1.27.16+k3s1")]
    public void Containerd_1_gets_config_toml_tmpl_in_version_2_with_every_value_under_the_cri_plugin(string k3sVersion)
    {
        var (file, text) = ContainerdConfig.RenderFor(k3sVersion);
        var toml = Parse(text);

        Assert.Equal("config.toml.tmpl", file);
        Assert.Equal(2L, toml["version"]);
        var cri = Table(toml, "plugins", V2Cri);
        Assert.Equal("kubedind/pause:3.10", cri["sandbox_image"]);
        Assert.Equal(true, cri["restrict_oom_score_adj"]);
        Assert.Equal("127.0.0.1", cri["stream_server_address"]);
        Assert.Equal("/usr/lib/cni", Table(cri, "cni")["bin_dir"]);
        Assert.Equal("/etc/cni/net.d", Table(cri, "cni")["conf_dir"]);
        Assert.Equal("overlayfs", Table(cri, "containerd")["snapshotter"]);
        Assert.Equal("io.containerd.runc.v2", Table(cri, "containerd", "runtimes", "runc")["runtime_type"]);
        Assert.DoesNotContain(Table(toml, "plugins").Keys, k => k.StartsWith("io.containerd.cri.v1.", StringComparison.Ordinal));
        AssertOnlyDocumentedKeys(Table(toml, "plugins"), Version2Keys);
    }

    [Fact]
    public void Containerd_2_gets_config_v3_toml_tmpl_in_version_3_with_the_values_in_the_split_cri_plugins()
    {
        var (file, text) = ContainerdConfig.RenderFor("v1.33.7+k3s1");
        var toml = Parse(text);

        Assert.Equal("config-v3.toml.tmpl", file);
        Assert.Equal(3L, toml["version"]);
        var plugins = Table(toml, "plugins");
        Assert.Equal("kubedind/pause:3.10", Table(plugins, V3Images, "pinned_images")["sandbox"]);
        Assert.Equal("overlayfs", Table(plugins, V3Images)["snapshotter"]);
        Assert.Equal("/var/lib/rancher/k3s/agent/etc/containerd/certs.d", Table(plugins, V3Images, "registry")["config_path"]);
        Assert.Equal(true, Table(plugins, V3Runtime)["restrict_oom_score_adj"]);
        Assert.Equal("/usr/lib/cni", Table(plugins, V3Runtime, "cni")["bin_dir"]);
        Assert.Equal("/etc/cni/net.d", Table(plugins, V3Runtime, "cni")["conf_dir"]);
        Assert.Equal("io.containerd.runc.v2", Table(plugins, V3Runtime, "containerd", "runtimes", "runc")["runtime_type"]);
        Assert.Equal("127.0.0.1", Table(plugins, V2Cri)["stream_server_address"]);
        Assert.DoesNotContain("sandbox_image", text, StringComparison.Ordinal);
        AssertOnlyDocumentedKeys(plugins, Version3Keys);
    }

    [Fact]
    public void Both_versions_take_their_values_from_the_one_source()
    {
        var values = new ContainerdValues { CniBinDirectory = "/opt/kdt/cni", SandboxImage = "kdt/pause:1" };

        var v2 = Parse(ContainerdConfig.RenderVersion2(values));
        var v3 = Parse(ContainerdConfig.RenderVersion3(values));

        Assert.Equal("/opt/kdt/cni", Table(v2, "plugins", V2Cri, "cni")["bin_dir"]);
        Assert.Equal("/opt/kdt/cni", Table(v3, "plugins", V3Runtime, "cni")["bin_dir"]);
        Assert.Equal("kdt/pause:1", Table(v2, "plugins", V2Cri)["sandbox_image"]);
        Assert.Equal("kdt/pause:1", Table(v3, "plugins", V3Images, "pinned_images")["sandbox"]);
    }

    [Theory]
    [InlineData("v1.21.2+k3s1")]
    [InlineData("v1.33.7+k3s1")]
    public void Comments_hold_no_template_actions_which_k3s_would_execute(string k3sVersion)
    {
        // Go templates run actions inside TOML comments too: "{{ }}" there is "missing value for command" at start.
        var (_, text) = ContainerdConfig.RenderFor(k3sVersion);

        Assert.All(text.Split('\n').Where(l => l.TrimStart().StartsWith('#')), l => Assert.DoesNotContain("{{", l, StringComparison.Ordinal));
    }

    /// <summary>Fills the template as k3s does for a node without registries, and as kubernetes.sh does without CAP_SYS_RESOURCE.</summary>
    private static TomlTable Parse(string template)
    {
        var filled = template
            .Replace("{{ .NodeConfig.AgentConfig.PauseImage }}", "kubedind/pause:3.10", StringComparison.Ordinal)
            .Replace("{{ .NodeConfig.AgentConfig.Snapshotter }}", "overlayfs", StringComparison.Ordinal)
            .Replace("{{ .NodeConfig.Containerd.Opt }}", "/var/lib/rancher/k3s/agent/containerd", StringComparison.Ordinal)
            .Replace("{{ .NodeConfig.Containerd.Registry }}", "/var/lib/rancher/k3s/agent/etc/containerd/certs.d", StringComparison.Ordinal)
            .Replace("{{ .NodeConfig.SELinux }}", "false", StringComparison.Ordinal)
            .Replace(ContainerdValues.RestrictOomScoreAdjPlaceholder, "true", StringComparison.Ordinal);

        // What is left in {{ }} is the registries block, empty without registries.
        var lines = filled.Split('\n').Where(l => !l.Contains("{{", StringComparison.Ordinal));
        Assert.DoesNotMatch(new Regex("@[A-Z_]+@"), filled);
        return TomlSerializer.Deserialize<TomlTable>(string.Join('\n', lines))!;
    }

    private static TomlTable Table(TomlTable table, params string[] path) =>
        path.Aggregate(table, (t, key) => Assert.IsType<TomlTable>(t[key]));

    private static void AssertOnlyDocumentedKeys(TomlTable plugins, Dictionary<string, string[]> documented)
    {
        foreach (var (name, keys) in documented)
        {
            Assert.All(Lookup(plugins, name).Keys, k => Assert.Contains(k, keys));
        }

        // Every plugin the file configures is one the documentation lists.
        Assert.All(plugins.Keys, k => Assert.Contains(k, new[] { "io.containerd.internal.v1.opt", V2Cri, V3Runtime, V3Images }));
    }

    // "io.containerd.cri.v1.runtime.cni" is the plugin "io.containerd.cri.v1.runtime", then its table "cni".
    private static TomlTable Lookup(TomlTable plugins, string name)
    {
        var plugin = plugins.Keys.Where(k => name == k || name.StartsWith(k + ".", StringComparison.Ordinal)).OrderByDescending(k => k.Length).First();
        var rest = name.Length > plugin.Length ? name[(plugin.Length + 1)..].Split('.') : [];
        return Table(Table(plugins, plugin), rest);
    }
}
