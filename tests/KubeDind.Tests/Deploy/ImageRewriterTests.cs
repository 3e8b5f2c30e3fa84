using k8s.Models;
using KubeDind.Deploy;

namespace KubeDind.Tests.Deploy;

public sealed class ImageRewriterTests
{
    [Fact]
    public void Explicit_rewrites_win_then_pushed_images_and_others_are_reported_unknown()
    {
        var objects = ManifestReader.Read(new DeploySettings { Manifests = ["app"], BaseDirectory = ManifestFiles.Root });
        var rewriter = new ImageRewriter(
            new Dictionary<string, string> { ["busybox"] = "localhost:5000/mirror/busybox" },
            new Dictionary<string, string> { ["web:1"] = "localhost:5000/web:1" });

        var uses = objects.SelectMany(rewriter.Rewrite).ToList();

        Assert.Equal(
            [("app", "web:1", "localhost:5000/web:1", ImageSource.Pushed), ("migrate", "busybox:1.36", "localhost:5000/mirror/busybox:1.36", ImageSource.Rewritten)],
            uses.Select(u => (u.Container, u.Original, u.Final, u.Source)));
        var pod = objects.Single(o => o.Kind == "Deployment").ToModel<V1Deployment>().Spec.Template.Spec;
        Assert.Equal("localhost:5000/web:1", pod.Containers[0].Image);
        Assert.Equal("localhost:5000/mirror/busybox:1.36", pod.InitContainers[0].Image);
    }

    [Theory]
    [InlineData("web", "localhost:5000/web:latest", ImageSource.Pushed)] // "web" means web:latest to the runtime
    [InlineData("web:latest", "localhost:5000/web:latest", ImageSource.Pushed)]
    [InlineData("localhost:5000/web:latest", "localhost:5000/web:latest", ImageSource.Pushed)] // already the pushed reference
    [InlineData("api:3", "registry.local/api:9", ImageSource.Rewritten)] // exact key
    [InlineData("api:4", "registry.local/api:4", ImageSource.Rewritten)] // repository key keeps the tag
    [InlineData("redis:7", "redis:7", ImageSource.Unknown)]
    public void Resolve_matches_exact_names_tags_and_repositories(string image, string expected, ImageSource source)
    {
        var rewriter = new ImageRewriter(
            new Dictionary<string, string> { ["api:3"] = "registry.local/api:9", ["api"] = "registry.local/api" },
            new Dictionary<string, string> { ["web:latest"] = "localhost:5000/web:latest" });

        Assert.Equal((expected, source), rewriter.Resolve(image));
    }

    [Fact]
    public void Images_in_crd_instances_and_cronjobs_are_found_anywhere()
    {
        var objects = ManifestReader.ReadText(
            """
            apiVersion: batch/v1
            kind: CronJob
            metadata: {name: nightly}
            spec:
              schedule: "0 3 * * *"
              jobTemplate:
                spec:
                  template:
                    spec:
                      containers: [{name: run, image: "batch:1"}]
            """,
            "inline");
        var uses = new ImageRewriter(new Dictionary<string, string>(), new Dictionary<string, string> { ["batch:1"] = "localhost:5000/batch:1" }).Rewrite(objects[0]);

        Assert.Equal("localhost:5000/batch:1", Assert.Single(uses).Final);
    }

    [Fact]
    public void An_image_merged_in_from_an_anchor_is_rewritten_once_and_reported_for_every_container_using_it()
    {
        var objects = ManifestReader.ReadText(
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: merged}
            spec:
              containers:
                - &app {name: app, image: "web:1"}
                - <<: *app
                  name: copy
              ephemeralContainers:
                - *app
            """,
            "inline");
        var uses = new ImageRewriter(new Dictionary<string, string>(), new Dictionary<string, string> { ["web:1"] = "localhost:5000/web:1" }).Rewrite(objects[0]);

        Assert.Equal(
            [("app", "web:1", "localhost:5000/web:1"), ("copy", "web:1", "localhost:5000/web:1"), ("app", "web:1", "localhost:5000/web:1")],
            uses.Select(u => (u.Container, u.Original, u.Final)));
        // Read back as the server would: the alias in ephemeralContainers is the same (rewritten) node.
        var sent = ManifestReader.ReadText(objects[0].ToYaml(), "sent")[0].Document;
        var spec = ManifestObject.ValueOf(sent, "spec");
        var containers = ((YamlDotNet.RepresentationModel.YamlSequenceNode)ManifestObject.ValueOf(spec, "containers")!).ToList();
        Assert.Equal("localhost:5000/web:1", ManifestObject.TextOf(containers[0], "image"));
        Assert.Same(containers[0], ManifestObject.ValueOf(containers[1], "<<"));
        Assert.Same(containers[0], ((YamlDotNet.RepresentationModel.YamlSequenceNode)ManifestObject.ValueOf(spec, "ephemeralContainers")!)[0]);
    }

    /// <summary>docs/using-the-cluster.md, "Third-party images offline": tag a local copy with the manifest's exact name and push it.</summary>
    [Fact]
    public void A_third_party_image_pushed_under_the_name_the_manifest_uses_is_what_the_manifest_gets()
    {
        var (repository, tag) = KubeDind.Cluster.PushImage.ClusterImageName("redis:7", null, "sha256:0123456789abcdef0123456789abcdef");
        var pushed = new Dictionary<string, string> { ["redis:7"] = $"localhost:5000/{repository}:{tag}" };

        var rewriter = new ImageRewriter(new Dictionary<string, string>(), pushed);
        var byRewrite = new ImageRewriter(new Dictionary<string, string> { ["redis"] = "localhost:5000/my-redis" }, new Dictionary<string, string>());

        Assert.Equal(("localhost:5000/redis:7", ImageSource.Pushed), rewriter.Resolve("redis:7"));
        Assert.Equal(("localhost:5000/my-redis:7", ImageSource.Rewritten), byRewrite.Resolve("redis:7"));
    }
}
