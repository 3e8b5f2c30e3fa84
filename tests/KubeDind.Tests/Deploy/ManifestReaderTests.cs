using k8s.Models;
using KubeDind.Deploy;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KubeDind.Tests.Deploy;

public sealed class ManifestReaderTests
{
    private readonly ITestOutputHelper _output;

    public ManifestReaderTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public void A_directory_is_read_in_file_order_skipping_empty_documents()
    {
        var objects = ManifestReader.Read(new DeploySettings { Manifests = ["app"], BaseDirectory = ManifestFiles.Root });

        Assert.Equal(["ConfigMap web-config", "Deployment web", "Service web"], objects.Select(o => o.DisplayName));
        var deployment = objects[1];
        Assert.Equal(2, deployment.DocumentIndex); // the empty document the file starts with counts
        Assert.EndsWith("20-web.yaml", deployment.Source, StringComparison.Ordinal);
    }

    [Fact]
    public void Built_in_kinds_read_into_the_clients_typed_models_with_their_scalars_typed()
    {
        var objects = ManifestReader.Read(new DeploySettings { Manifests = ["app/*.yaml"], BaseDirectory = ManifestFiles.Root });

        var config = objects.Single(o => o.Kind == "ConfigMap").ToModel<V1ConfigMap>();
        Assert.Equal(":8080", config.Data["listen"]);
        Assert.Equal("2", config.Data["replicas-hint"]);
        var deployment = objects.Single(o => o.Kind == "Deployment").ToModel<V1Deployment>();
        Assert.Equal(2, deployment.Spec.Replicas);
        Assert.Equal(8080, deployment.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort);
    }

    [Fact]
    public void Anchors_aliases_and_merge_keys_are_expanded()
    {
        var worker = Assert.Single(ManifestReader.Read(new DeploySettings { Manifests = [ManifestFiles.Path("awkward/anchors.yaml")] }));

        var spec = worker.ToModel<V1Deployment>().Spec;
        Assert.Equal("worker", spec.Selector.MatchLabels["app"]);
        Assert.Equal("back", spec.Template.Metadata.Labels["tier"]);
        var containers = spec.Template.Spec.Containers;
        Assert.Equal(2, containers.Count);
        Assert.Equal("sidecar", containers[1].Name);
        Assert.Equal("sidecar", containers[1].Image); // explicit keys win over the merged ones
        Assert.Equal("64Mi", containers[1].Resources.Limits["memory"].ToString()); // merged from the anchor
        Assert.Equal("yes", containers[0].Env[0].Value); // quoted "yes" stays a string
        Assert.Equal("007", containers[0].Env[1].Value);
    }

    [Fact]
    public void List_kinds_are_expanded_into_their_items()
    {
        var objects = ManifestReader.Read(new DeploySettings { Manifests = [ManifestFiles.Path("awkward/list.yaml")] });

        Assert.Equal(["ConfigMap from-list-1", "Secret from-list-2"], objects.Select(o => o.DisplayName));
        Assert.All(objects, o => Assert.Equal(1, o.DocumentIndex));
    }

    [Fact]
    public void Unknown_kinds_are_kept_as_generic_objects()
    {
        var objects = ManifestReader.Read(new DeploySettings { Manifests = [ManifestFiles.Path("awkward/crd.yaml")] });

        var widget = objects.Single(o => o.Kind == "Widget");
        Assert.Equal("example.kubedind.io", widget.Group);
        Assert.Equal("v1", widget.Version);
        var size = Assert.IsType<YamlScalarNode>(ManifestObject.ValueOf(ManifestObject.ValueOf(widget.Document, "spec"), "size"));
        Assert.Equal(("3", ScalarStyle.Plain), (size.Value, size.Style)); // plain: the server reads a number
    }

    [Fact]
    public void Inline_yaml_is_read_after_files()
    {
        var objects = ManifestReader.Read(new DeploySettings
        {
            Manifests = [ManifestFiles.Path("awkward/list.yaml")],
            InlineManifests = ["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: inline}\n"],
        });

        Assert.Equal("ConfigMap inline", objects[^1].DisplayName);
        Assert.Equal("inline manifest #1", objects[^1].Source);
    }

    [Fact]
    public void A_yaml_syntax_error_names_file_and_line()
    {
        var ex = Assert.Throws<KubeDindException>(() => ManifestReader.Read(new DeploySettings { Manifests = [ManifestFiles.Path("bad/syntax.yaml")] }));

        Assert.Contains("syntax.yaml: YAML syntax error at line", ex.Message, StringComparison.Ordinal);
        _output.WriteLine(ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void A_document_without_kind_names_file_and_document_index()
    {
        var ex = Assert.Throws<KubeDindException>(() => ManifestReader.Read(new DeploySettings { Manifests = [ManifestFiles.Path("bad/no-kind.yaml")] }));

        Assert.Contains("no-kind.yaml: document 2 (line 6) has no kind", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Theory]
    [InlineData("does-not-exist.yaml", "does not exist")]
    [InlineData("nothing-here/*.yaml", "matches no file")]
    public void A_missing_manifest_path_is_one_line(string entry, string expected)
    {
        var ex = Assert.Throws<KubeDindException>(() => ManifestReader.Read(new DeploySettings { Manifests = [entry], BaseDirectory = ManifestFiles.Root }));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Contains(entry, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Globs_cross_directories_with_double_star()
    {
        var sources = ManifestReader.ResolveSources(["**/list.yaml", "app/*.yaml"], ManifestFiles.Root);

        Assert.Equal(["list.yaml", "10-config.yaml", "20-web.yaml"], sources.Select(s => System.IO.Path.GetFileName(s.Path)));
    }

    [Fact]
    public void Nothing_to_deploy_is_an_error()
    {
        var ex = Assert.Throws<KubeDindException>(() => ManifestReader.Read(new DeploySettings { InlineManifests = ["# only a comment\n---\n"] }));

        Assert.Contains("name no Kubernetes object", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Anchors_and_merge_keys_reach_the_server_as_written_for_it_to_expand()
    {
        const string yaml = """
            base: &a { x: from-a, y: from-a }
            apiVersion: v1
            kind: ConfigMap
            metadata: { name: merged }
            data:
              <<: *a
              x: explicit
            """;

        var sent = Assert.Single(ManifestReader.ReadText(yaml, "inline")).ToYaml();

        var reread = Assert.Single(ManifestReader.ReadText(sent, "sent"));
        var data = ManifestObject.ValueOf(reread.Document, "data");
        Assert.Same(ManifestObject.ValueOf(reread.Document, "base"), ManifestObject.ValueOf(data, "<<")); // still an alias of the anchor
        Assert.Equal("explicit", ManifestObject.TextOf(data, "x"));
    }

    [Fact]
    public void A_duplicate_explicit_key_is_a_syntax_error()
    {
        var ex = Assert.Throws<KubeDindException>(() => ManifestReader.ReadText("apiVersion: v1\nkind: ConfigMap\nkind: Secret\n", "inline"));

        Assert.Contains("Duplicate key kind", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bare_octal_modes_stay_plain_for_the_server_which_reads_them_as_kubectl_does()
    {
        const string yaml = """
            apiVersion: v1
            kind: Pod
            metadata: { name: modes }
            spec:
              containers: [{ name: app, image: app }]
              volumes:
                - { name: config, configMap: { name: config, defaultMode: 0644 } }
                - { name: secret, secret: { secretName: secret, defaultMode: 0400 } }
            """;

        var pod = Assert.Single(ManifestReader.ReadText(yaml, "inline"));

        Assert.Equal([420, 256], pod.ToModel<V1Pod>().Spec.Volumes.Select(v => v.ConfigMap?.DefaultMode ?? v.Secret.DefaultMode));
        Assert.Contains("defaultMode: 0644", pod.ToYaml(), StringComparison.Ordinal);
    }

    [Fact]
    public void Quoted_scalars_stay_quoted_and_bare_ones_bare_in_what_the_server_reads()
    {
        const string yaml = """
            apiVersion: example.kubedind.io/v1
            kind: Widget
            metadata: { name: flags }
            spec:
              bareOn: on
              quotedOn: "on"
              quotedYes: 'yes'
              quotedMode: "0644"
            """;

        var sent = Assert.Single(ManifestReader.ReadText(Assert.Single(ManifestReader.ReadText(yaml, "inline")).ToYaml(), "sent"));

        var spec = ManifestObject.ValueOf(sent.Document, "spec");
        Assert.Equal(
            [("bareOn", ScalarStyle.Plain), ("quotedOn", ScalarStyle.DoubleQuoted), ("quotedYes", ScalarStyle.SingleQuoted), ("quotedMode", ScalarStyle.DoubleQuoted)],
            ((YamlMappingNode)spec!).Children.Select(kv => (((YamlScalarNode)kv.Key).Value!, ((YamlScalarNode)kv.Value).Style)));
    }

    [Fact]
    public void A_crd_and_its_custom_resource_in_one_file_are_both_read()
    {
        var objects = ManifestReader.Read(new DeploySettings { Manifests = [ManifestFiles.Path("awkward/crd.yaml")] });

        Assert.Equal(["Widget blue", "CustomResourceDefinition widgets.example.kubedind.io"], objects.Select(o => o.DisplayName));
        var crd = objects[1].ToModel<V1CustomResourceDefinition>();
        Assert.Equal("example.kubedind.io", crd.Spec.Group);
        Assert.Equal("Widget", crd.Spec.Names.Kind);
        Assert.Equal(["v1"], crd.Spec.Versions.Select(v => v.Name));
    }

    [Fact]
    public void An_object_built_from_a_typed_model_carries_no_null_fields()
    {
        var job = ManifestObject.FromModel(
            new V1Job { ApiVersion = "batch/v1", Kind = "Job", Metadata = new V1ObjectMeta { Name = "run" } },
            "test");

        Assert.Equal("Job run", job.DisplayName);
        Assert.Equal("apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: run\n", job.ToYaml().Replace("...\n", string.Empty, StringComparison.Ordinal));
    }
}
