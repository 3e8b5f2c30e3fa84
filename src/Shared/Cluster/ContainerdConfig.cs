using System.Text;

namespace KubeDind.Cluster;

/// <summary>
/// What the cluster image needs from k3s's embedded containerd, whatever its version: the one source of these values.
/// Strings in <c>{{ }}</c> are k3s template fields (its <c>config.Node</c>), filled in by k3s when it renders the file;
/// <see cref="RestrictOomScoreAdjPlaceholder"/> is filled in by the image's kubernetes.sh at start, because only the
/// running container knows whether it holds CAP_SYS_RESOURCE.
/// </summary>
public sealed record ContainerdValues
{
    public const string RestrictOomScoreAdjPlaceholder = "@RESTRICT_OOM_SCORE_ADJ@";

    /// <summary>The sandbox (pause) image: what k3s was given with --pause-image (KubeDind's own pause image).</summary>
    public string SandboxImage { get; init; } = "{{ .NodeConfig.AgentConfig.PauseImage }}";

    /// <summary>Debian's CNI plugins (package containernetworking-plugins); no flannel.</summary>
    public string CniBinDirectory { get; init; } = "/usr/lib/cni";

    /// <summary>KubeDind's bridge conflist.</summary>
    public string CniConfDirectory { get; init; } = "/etc/cni/net.d";

    /// <summary>Debian's containerd package provides the runc v2 shim; runc is Debian's.</summary>
    public string RuntimeType { get; init; } = "io.containerd.runc.v2";

    /// <summary>true where the container lacks CAP_SYS_RESOURCE (see the class comment).</summary>
    public string RestrictOomScoreAdj { get; init; } = RestrictOomScoreAdjPlaceholder;

    public string StreamServerAddress { get; init; } = "127.0.0.1";

    public string StreamServerPort { get; init; } = "10010";

    public string Snapshotter { get; init; } = "{{ .NodeConfig.AgentConfig.Snapshotter }}";

    public string OptPath { get; init; } = "{{ .NodeConfig.Containerd.Opt }}";

    public string SELinux { get; init; } = "{{ .NodeConfig.SELinux }}";
}

/// <summary>
/// Renders the containerd configuration template k3s reads, in the form its containerd understands:
/// <list type="bullet">
/// <item>containerd 1.x (k3s up to v1.31.5 and v1.32.1): config version 2 in <c>config.toml.tmpl</c>, the CRI plugin
/// <c>io.containerd.grpc.v1.cri</c> holding everything (containerd's docs/cri/config.md, release/1.4 to 1.7).</item>
/// <item>containerd 2.x (k3s v1.31.6+k3s1, v1.32.2+k3s1 and every later release, per k3s's "Configuring containerd"
/// docs): config version 3 in <c>config-v3.toml.tmpl</c>, the CRI plugin split into
/// <c>io.containerd.cri.v1.runtime</c> (selinux, oom score, runtimes, CNI), <c>io.containerd.cri.v1.images</c>
/// (snapshotter, <c>pinned_images.sandbox</c>, registry <c>config_path</c>) and <c>io.containerd.grpc.v1.cri</c> (the
/// stream server), per containerd 2.0's docs/cri/config.md. CNI stays <c>bin_dir</c>: 2.0 knows only that key, 2.1
/// deprecated it for <c>bin_dirs</c> and removes it in 2.3 (containerd's RELEASES.md).</item>
/// </list>
/// A containerd 2 that finds only a version 2 file migrates it, so the version 2 file is the safe side for a k3s whose
/// version cannot be read.
/// </summary>
public static class ContainerdConfig
{
    /// <summary>The file name k3s reads for version 2 (containerd 1.x).</summary>
    public const string Version2File = "config.toml.tmpl";

    /// <summary>The file name k3s reads for version 3 (containerd 2.x).</summary>
    public const string Version3File = "config-v3.toml.tmpl";

    /// <summary>Where the image keeps the rendered template until kubernetes.sh copies it into k3s's agent directory.</summary>
    public const string ImageDirectory = "/usr/local/share/kubedind/containerd";

    /// <summary>The configuration version k3s <paramref name="k3sVersion"/>'s containerd reads: 3 for containerd 2.x, else 2.</summary>
    public static int ConfigVersionFor(string? k3sVersion)
    {
        var version = K3sVersion.Parse(k3sVersion);
        if (version is null || version.Major != 1)
        {
            return version is { Major: > 1 } ? 3 : 2;
        }

        // containerd 2.0 arrived in the February 2025 releases v1.31.6+k3s1 and v1.32.2+k3s1.
        return version.Minor switch
        {
            >= 33 => 3,
            32 => version.Patch >= 2 ? 3 : 2,
            31 => version.Patch >= 6 ? 3 : 2,
            _ => 2,
        };
    }

    /// <summary>The template's file name and text for k3s <paramref name="k3sVersion"/>.</summary>
    public static (string FileName, string Text) RenderFor(string? k3sVersion, ContainerdValues? values = null)
    {
        values ??= new ContainerdValues();
        return ConfigVersionFor(k3sVersion) == 3 ? (Version3File, RenderVersion3(values)) : (Version2File, RenderVersion2(values));
    }

    public static string RenderVersion2(ContainerdValues values)
    {
        ArgumentNullException.ThrowIfNull(values);
        const string cri = "plugins.\"io.containerd.grpc.v1.cri\"";
        var text = new StringBuilder()
            .AppendLine("# k3s's embedded containerd 1.x, as KubeDind runs it (rendered by KubeDind's core; k3s fills in its node fields).")
            .AppendLine("version = 2")
            .AppendLine()
            .AppendLine("[plugins.\"io.containerd.internal.v1.opt\"]")
            .AppendLine($"  path = \"{values.OptPath}\"")
            .AppendLine()
            .AppendLine($"[{cri}]")
            .AppendLine($"  stream_server_address = \"{values.StreamServerAddress}\"")
            .AppendLine($"  stream_server_port = \"{values.StreamServerPort}\"")
            .AppendLine($"  enable_selinux = {values.SELinux}")
            .AppendLine($"  sandbox_image = \"{values.SandboxImage}\"")
            .AppendLine($"  restrict_oom_score_adj = {values.RestrictOomScoreAdj}")
            .AppendLine()
            .AppendLine($"[{cri}.containerd]")
            .AppendLine($"  snapshotter = \"{values.Snapshotter}\"")
            .AppendLine("  disable_snapshot_annotations = true")
            .AppendLine()
            .AppendLine($"[{cri}.containerd.runtimes.runc]")
            .AppendLine($"  runtime_type = \"{values.RuntimeType}\"")
            .AppendLine()
            .AppendLine($"[{cri}.cni]")
            .AppendLine($"  bin_dir = \"{values.CniBinDirectory}\"")
            .AppendLine($"  conf_dir = \"{values.CniConfDirectory}\"")
            .AppendLine()
            .AppendLine("# /etc/rancher/k3s/registries.yaml (localhost:5000 and the registry mirrors), as k3s parsed it.")
            .AppendLine("{{ if .PrivateRegistryConfig }}")
            .AppendLine("{{ range $k, $v := .PrivateRegistryConfig.Mirrors }}")
            .AppendLine($"[{cri}.registry.mirrors.\"{{{{ $k }}}}\"]")
            .AppendLine("  endpoint = [{{ range $i, $j := $v.Endpoints }}{{ if $i }}, {{ end }}{{ printf \"%q\" . }}{{ end }}]")
            .AppendLine("{{ end }}")
            .AppendLine("{{ range $k, $v := .PrivateRegistryConfig.Configs }}")
            .AppendLine("{{ if $v.TLS }}")
            .AppendLine($"[{cri}.registry.configs.\"{{{{ $k }}}}\".tls]")
            .AppendLine("  {{ if $v.TLS.CAFile }}ca_file = \"{{ $v.TLS.CAFile }}\"{{ end }}")
            .AppendLine("  {{ if $v.TLS.InsecureSkipVerify }}insecure_skip_verify = true{{ end }}")
            .AppendLine("{{ end }}")
            .AppendLine("{{ end }}")
            .AppendLine("{{ end }}");
        return text.ToString();
    }

    public static string RenderVersion3(ContainerdValues values)
    {
        ArgumentNullException.ThrowIfNull(values);
        const string runtime = "plugins.'io.containerd.cri.v1.runtime'";
        const string images = "plugins.'io.containerd.cri.v1.images'";
        var text = new StringBuilder()
            .AppendLine("# k3s's embedded containerd 2.x, as KubeDind runs it (rendered by KubeDind's core; k3s fills in its node fields).")
            .AppendLine("version = 3")
            .AppendLine()
            .AppendLine("[plugins.'io.containerd.internal.v1.opt']")
            .AppendLine($"  path = \"{values.OptPath}\"")
            .AppendLine()
            .AppendLine("[plugins.'io.containerd.grpc.v1.cri']")
            .AppendLine($"  stream_server_address = \"{values.StreamServerAddress}\"")
            .AppendLine($"  stream_server_port = \"{values.StreamServerPort}\"")
            .AppendLine()
            .AppendLine($"[{runtime}]")
            .AppendLine($"  enable_selinux = {values.SELinux}")
            .AppendLine($"  restrict_oom_score_adj = {values.RestrictOomScoreAdj}")
            .AppendLine()
            .AppendLine($"[{runtime}.containerd.runtimes.runc]")
            .AppendLine($"  runtime_type = \"{values.RuntimeType}\"")
            .AppendLine()
            .AppendLine($"[{runtime}.cni]")
            .AppendLine($"  bin_dir = \"{values.CniBinDirectory}\"")
            .AppendLine($"  conf_dir = \"{values.CniConfDirectory}\"")
            .AppendLine()
            .AppendLine($"[{images}]")
            .AppendLine($"  snapshotter = \"{values.Snapshotter}\"")
            .AppendLine("  disable_snapshot_annotations = true")
            .AppendLine()
            .AppendLine($"[{images}.pinned_images]")
            .AppendLine($"  sandbox = \"{values.SandboxImage}\"")
            .AppendLine()
            .AppendLine("# registries.yaml as k3s wrote it: one hosts.toml per registry under this directory (containerd's hosts format).")
            .AppendLine($"[{images}.registry]")
            .AppendLine("  config_path = \"{{ .NodeConfig.Containerd.Registry }}\"");
        return text.ToString();
    }
}
