using KubeDind.Cluster;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// The status document is the one contract between the image and the core: the image's own writer (common.sh, run by
/// bash and jq in a temporary directory, no Docker) produces a document the core's <see cref="ImageStatus"/> reads.
/// </summary>
public sealed class ImageStatusTests(ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_document_the_image_writer_produced_is_read_with_its_state_components_and_k3s_version()
    {
        var json = await WriteWithImageScriptAsync(
            """
            status_init true
            status_state starting kubernetes
            printf 'dns\tnone\tfalse\tdisabled in /etc/rancher/k3s/config.yaml\t\ttrue\n' > entries
            printf 'storage\thost-path\ttrue\tlocal-path-provisioner'"'"'s image is unavailable\t\tfalse\n' >> entries
            printf 'metrics\tmetrics-server\tfalse\tair-gap images\tmetrics-server\tfalse\n' >> entries
            status_components < entries
            status_state failed k3s 'exited with code 1: level=fatal msg="a \"quoted\" reason"'
            """);

        var status = ImageStatus.Parse(json, "kdt/image:1");

        Assert.Equal((1, "server", true, "v1.33.7+k3s1"), (status.SchemaVersion, status.Role, status.Kubernetes, status.K3sVersion));
        Assert.Equal(new ImageState(ImagePhase.Failed, "k3s", "exited with code 1: level=fatal msg=\"a \\\"quoted\\\" reason\""), status.State);
        Assert.Equal("its k3s died (exited with code 1: level=fatal msg=\"a \\\"quoted\\\" reason\")", status.Death);
        Assert.Equal(["dns=none", "storage=host-path (KubeDind fallback)", "metrics=metrics-server"], status.Components.Select(c => c.ToString()));
        Assert.Equal(["metrics-server"], status.Components.SelectMany(c => c.Pods));
        Assert.Equal("disabled in /etc/rancher/k3s/config.yaml", status.TurnedOff("dns")?.Detail);
        Assert.Null(status.TurnedOff("storage"));
        Assert.Null(status.TurnedOff("metrics"));
    }

    [Fact]
    public async Task A_compose_mode_document_has_no_k3s_version_and_no_components_and_is_not_dead_while_running()
    {
        var json = await WriteWithImageScriptAsync("status_init false\nstatus_state running", k3sVersion: "none");

        var status = ImageStatus.Parse(json, "kdt/image:1");

        Assert.Equal((false, null, ImagePhase.Running), (status.Kubernetes, status.K3sVersion, status.State.Phase));
        Assert.Empty(status.Components);
        Assert.Null(status.Death);
    }

    [Theory]
    [InlineData("""{"schemaVersion":2,"role":"server"}""", "schemaVersion 2")]
    [InlineData("""{"role":"server"}""", "schemaVersion (none)")]
    public void A_document_of_another_schema_version_is_refused_in_one_line_naming_the_image_and_the_fix(string json, string named)
    {
        var error = Assert.Throws<KubeDindException>(() => ImageStatus.Parse(json, "kdt/image:1"));

        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith($"cluster image kdt/image:1: its status document {ImageStatus.Path} has {named}, this KubeDind reads 1; rebuild the cluster image", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_document_missing_a_field_is_refused_in_one_line()
    {
        var error = Assert.Throws<KubeDindException>(() => ImageStatus.Parse("""{"schemaVersion":1,"role":"server","kubernetes":true}""", "kdt/image:1"));

        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith($"cluster image kdt/image:1: its status document {ImageStatus.Path} is not one this KubeDind reads", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_image_scripts_read_the_same_contract_the_core_embeds()
    {
        var facts = await RunWithImageScriptAsync(
            "printf '%s\\n' \"$KUBEDIND_STATUS_SCHEMA\" \"$KUBEDIND_SERVER_NODE\" \"$KUBEDIND_K3S_VERSION_FILE\"; printf '%s\\n' \"$KUBEDIND_STATUS\" > status.json",
            withStateOverrides: false);

        var contract = ImageContract.Current;
        Assert.Equal(
            [contract.StatusSchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), ClusterContainerSpec.ServerNodeName, ClusterImage.VersionFile],
            facts.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(ImageStatus.Path, facts.Document.Trim());
    }

    private static string Contract => Path.Combine(TestRepository.Root, "image", "rootfs", "etc", "kubedind", "contract.json");

    private async Task<string> WriteWithImageScriptAsync(string script, string k3sVersion = "v1.33.7+k3s1") =>
        (await RunWithImageScriptAsync(script, k3sVersion)).Document;

    /// <summary>
    /// Sources the image's common.sh (with the repository's contract.json; with <paramref name="withStateOverrides"/>,
    /// its state directory in a temporary one), runs <paramref name="script"/>, returns its output and the document.
    /// </summary>
    private async Task<(string Stdout, string Document)> RunWithImageScriptAsync(string script, string k3sVersion = "v1.33.7+k3s1", bool withStateOverrides = true)
    {
        var directory = Directory.CreateTempSubdirectory("kdt-image-status-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "version"), k3sVersion + "\n", Ct);
            var environment = new Dictionary<string, string?>
            {
                ["KUBEDIND_CONTRACT"] = Contract,
                ["KUBEDIND_STATE"] = withStateOverrides ? directory : null,
                ["KUBEDIND_K3S_VERSION_FILE"] = withStateOverrides ? Path.Combine(directory, "version") : null,
            };

            var (exitCode, stdout, stderr) = await ImageScript.RunAsync($"source \"$1\"\n{script}", [ImageScript.PathOf("common.sh")], directory, environment);
            Assert.True(exitCode == 0, $"the image's status writer failed (exit {exitCode}): {stdout}{stderr}");
            var json = await File.ReadAllTextAsync(Path.Combine(directory, "status.json"), Ct);
            output.WriteLine(json);
            return (stdout, json);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
