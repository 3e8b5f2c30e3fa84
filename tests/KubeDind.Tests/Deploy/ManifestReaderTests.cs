using System.Text.Json.Nodes;
using KubeDind.Deploy;

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
    public void Scalars_are_typed_like_kubectl_types_them()
    {
        var objects = ManifestReader.Read(new DeploySettings { Manifests = ["app/*.yaml"], BaseDirectory = ManifestFiles.Root });

        var config = objects.Single(o => o.Kind == "ConfigMap").Body;
        Assert.Equal(":8080", (string?)config["data"]!["listen"]);
        Assert.Equal("2", (string?)config["data"]!["replicas-hint"]);
        var deployment = objects.Single(o => o.Kind == "Deployment").Body;
        Assert.Equal(2, deployment["spec"]!["replicas"]!.GetValue<long>());
        Assert.Equal(8080, deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["ports"]![0]!["containerPort"]!.GetValue<long>());
    }

    [Fact]
    public void Anchors_aliases_and_merge_keys_are_expanded()
    {
        var worker = Assert.Single(ManifestReader.Read(new DeploySettings { Manifests = [ManifestFiles.Path("awkward/anchors.yaml")] }));

        var spec = worker.Body["spec"]!;
        Assert.Equal("worker", (string?)spec["selector"]!["matchLabels"]!["app"]);
        Assert.Equal("back", (string?)spec["template"]!["metadata"]!["labels"]!["tier"]);
        var containers = (JsonArray)spec["template"]!["spec"]!["containers"]!;
        Assert.Equal(2, containers.Count);
        Assert.Equal("sidecar", (string?)containers[1]!["name"]);
        Assert.Equal("sidecar", (string?)containers[1]!["image"]); // explicit keys win over the merged ones
        Assert.Equal("64Mi", (string?)containers[1]!["resources"]!["limits"]!["memory"]); // merged from the anchor
        Assert.Equal("yes", (string?)containers[0]!["env"]![0]!["value"]); // quoted "yes" stays a string
        Assert.Equal("007", (string?)containers[0]!["env"]![1]!["value"]);
        Assert.DoesNotContain("<<", containers[1]!.AsObject().Select(kv => kv.Key));
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
        Assert.Equal(3, widget.Body["spec"]!["size"]!.GetValue<long>());
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
    public void Merge_keys_follow_yaml_explicit_keys_win_wherever_they_stand_and_earlier_merged_maps_win()
    {
        const string yaml = """
            base: &a { x: from-a, y: from-a }
            other: &b { x: from-b, z: from-b }
            apiVersion: v1
            kind: ConfigMap
            metadata: { name: merged }
            data:
              x: explicit-before
              <<: [*a, *b]
              w: explicit-after
            """;

        var data = Assert.Single(ManifestReader.ReadText(yaml, "inline")).Body["data"]!.AsObject();

        Assert.Equal("explicit-before", (string?)data["x"]);
        Assert.Equal("from-a", (string?)data["y"]);
        Assert.Equal("from-b", (string?)data["z"]);
        Assert.Equal("explicit-after", (string?)data["w"]);
        Assert.Equal(4, data.Count);
    }

    [Fact]
    public void A_duplicate_explicit_key_is_a_syntax_error()
    {
        var ex = Assert.Throws<KubeDindException>(() => ManifestReader.ReadText("apiVersion: v1\nkind: ConfigMap\nkind: Secret\n", "inline"));

        Assert.Contains("Duplicate key kind", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bare_octal_modes_are_numbers_as_kubectl_reads_them_and_quoted_ones_stay_strings()
    {
        const string yaml = """
            apiVersion: v1
            kind: ConfigMap
            metadata: { name: modes }
            data:
              bare: 0644
              quoted: "0644"
              zero: 0
              hex: 0x1F
            """;

        var data = Assert.Single(ManifestReader.ReadText(yaml, "inline")).Body["data"]!;

        Assert.Equal(420, data["bare"]!.GetValue<long>());
        Assert.Equal("0644", (string?)data["quoted"]);
        Assert.Equal(0, data["zero"]!.GetValue<long>());
        Assert.Equal(31, data["hex"]!.GetValue<long>());
    }

    [Fact]
    public void Bare_yaml_1_1_booleans_are_booleans_and_quoted_ones_stay_strings()
    {
        const string yaml = """
            apiVersion: v1
            kind: ConfigMap
            metadata: { name: flags }
            data:
              bareOn: on
              bareNo: no
              quotedOn: "on"
              quotedYes: 'yes'
            """;

        var data = Assert.Single(ManifestReader.ReadText(yaml, "inline")).Body["data"]!;

        Assert.True(data["bareOn"]!.GetValue<bool>());
        Assert.False(data["bareNo"]!.GetValue<bool>());
        Assert.Equal("on", (string?)data["quotedOn"]);
        Assert.Equal("yes", (string?)data["quotedYes"]);
    }

    [Fact]
    public void A_crd_and_its_custom_resource_in_one_file_are_both_read()
    {
        var objects = ManifestReader.Read(new DeploySettings { Manifests = [ManifestFiles.Path("awkward/crd.yaml")] });

        Assert.Equal(["Widget blue", "CustomResourceDefinition widgets.example.kubedind.io"], objects.Select(o => o.DisplayName));
        var crd = objects[1].ToModel<k8s.Models.V1CustomResourceDefinition>();
        Assert.Equal("example.kubedind.io", crd.Spec.Group);
        Assert.Equal("Widget", crd.Spec.Names.Kind);
        Assert.Equal(["v1"], crd.Spec.Versions.Select(v => v.Name));
    }

    [Fact]
    public void An_object_built_from_a_typed_model_carries_no_null_fields()
    {
        var job = ManifestObject.FromModel(
            new k8s.Models.V1Job { ApiVersion = "batch/v1", Kind = "Job", Metadata = new k8s.Models.V1ObjectMeta { Name = "run" } },
            "test");

        Assert.Equal("Job run", job.DisplayName);
        Assert.Equal("""{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"run"}}""", job.Body.ToJsonString());
    }
}
