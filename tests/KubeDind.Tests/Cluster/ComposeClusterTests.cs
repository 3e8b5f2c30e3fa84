using KubeDind.Cluster;
using KubeDind.Docker;
using KubeDind.Logging;

namespace KubeDind.Tests.Cluster;

/// <summary>Compose-mode cluster behaviour against the real engine, sharing one cluster where possible.</summary>
[Collection("Cluster")]
public sealed class ComposeClusterTests(ComposeClusterFixture fixture, ITestOutputHelper output)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private KubeDindCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Started_cluster_is_ready_with_its_registry_on_a_free_loopback_port()
    {
        Assert.StartsWith("127.0.0.1:", Cluster.RegistryHostEndpoint);
        Assert.Equal("localhost:5000", Cluster.RegistryClusterName);
        Assert.False(Cluster.HasKubernetes);
        Assert.Null(Cluster.KubeconfigPath);
        Assert.Contains(Cluster.Timings.Gates, g => g.Gate.StartsWith("registry answers", StringComparison.Ordinal));
        output.WriteLine($"timings: {Cluster.Timings}");

        var docker = await Cluster.ExecAsync("docker", "info", "--format", "{{.Driver}}");
        Assert.True(docker.Succeeded, docker.FirstErrorLine);
        Assert.Equal("overlay2", docker.StandardOutput.Trim());
    }

    [Fact]
    public void Privilege_fallback_ran_and_was_logged_once()
    {
        // This engine refuses --privileged ("unable to apply caps"), so Auto must have fallen back.
        Assert.Equal(PrivilegeMode.Fallback, Cluster.Privilege);
        var warnings = fixture.Log.Warnings.Where(w => w.Contains("refuses --privileged", StringComparison.Ordinal)).ToList();
        Assert.Single(warnings);
        output.WriteLine(warnings[0]);
    }

    [Fact]
    public async Task Pushed_image_is_pulled_and_run_inside()
    {
        var tag = ClusterTestSupport.UniqueName("tiny") + ":1.0";
        await ClusterTestSupport.BuildTinyImageAsync(fixture.Session, tag);
        try
        {
            var reference = await Cluster.PushImageAsync(tag, cancellationToken: Ct);
            Assert.Equal($"localhost:5000/{tag}", reference);
            Assert.False(await fixture.Session.Docker.Images.InspectImageAsync(tag, Ct).ContinueWith(t => t.Result.RepoTags.Any(r => r.StartsWith(Cluster.RegistryHostEndpoint, StringComparison.Ordinal))), "the temporary registry tag stays on the host");

            var run = await Cluster.ExecAsync("docker", "run", "--rm", reference);
            Assert.True(run.Succeeded, run.FirstErrorLine + run.StandardError);
            Assert.Contains("ldconfig", run.StandardOutput + run.StandardError, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(reference, Cluster.Images[tag]);
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(fixture.Session, tag);
        }
    }

    [Fact]
    public async Task Push_of_latest_gets_a_fixed_tag_derived_from_the_image_id()
    {
        var repository = ClusterTestSupport.UniqueName("latest");
        await ClusterTestSupport.BuildTinyImageAsync(fixture.Session, repository + ":latest");
        try
        {
            var id = (await fixture.Session.Docker.Images.InspectImageAsync(repository, Ct)).ID;
            var reference = await Cluster.PushImageAsync(repository, cancellationToken: Ct);
            Assert.Equal($"localhost:5000/{repository}:id-{id[7..19]}", reference);
            var tags = await ClusterTestSupport.RegistryTagsAsync(Cluster.RegistryHostEndpoint, repository);
            Assert.NotNull(tags);
            Assert.Contains($"id-{id[7..19]}", tags);
            Assert.DoesNotContain("\"latest\"", tags);
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(fixture.Session, repository + ":latest");
        }
    }

    [Fact]
    public async Task Side_loaded_image_runs_inside_and_a_second_load_is_skipped()
    {
        var tag = ClusterTestSupport.UniqueName("load") + ":2.0";
        await ClusterTestSupport.BuildTinyImageAsync(fixture.Session, tag);
        try
        {
            var reference = await Cluster.LoadImageAsync(tag, Ct);
            Assert.Equal(tag, reference);
            var run = await Cluster.ExecAsync("docker", "run", "--rm", reference);
            Assert.True(run.Succeeded, run.FirstErrorLine + run.StandardError);

            var before = fixture.Log.Lines.Count;
            await Cluster.LoadImageAsync(tag, Ct);
            Assert.Contains(fixture.Log.Lines.Skip(before), l => l.Message.Contains("skipped", StringComparison.Ordinal));
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(fixture.Session, tag);
        }
    }

    [Fact]
    public async Task Push_of_a_missing_host_image_fails_in_one_line()
    {
        var missing = ClusterTestSupport.UniqueName("missing") + ":1";
        var error = await Assert.ThrowsAsync<KubeDindException>(() => Cluster.PushImageAsync(missing, cancellationToken: Ct));
        Assert.Contains(missing, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        output.WriteLine(error.Message);
    }

    [Fact]
    public void Kubernetes_calls_on_a_compose_mode_cluster_fail_in_one_line()
    {
        var error = Assert.Throws<KubeDindException>(() => Cluster.Kubernetes);
        Assert.Contains("compose mode", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        output.WriteLine(error.Message);
    }

    [Fact]
    public async Task Kubectl_exec_on_a_compose_mode_cluster_fails_in_one_line()
    {
        var error = await Assert.ThrowsAsync<KubeDindException>(() => Cluster.ExecAsync("kubectl", "get", "nodes"));
        Assert.Contains("compose mode", error.Message);
    }

    [Fact]
    public async Task Deploy_on_a_compose_mode_cluster_fails_in_one_line()
    {
        var error = await Assert.ThrowsAsync<KubeDindException>(() => Cluster.DeployAsync(new KubeDind.Deploy.DeploySettings { InlineManifests = ["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"] }, Ct));
        Assert.Contains("compose mode", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Component_logs_for_diagnostics_come_from_inside_the_container()
    {
        var logs = await Cluster.ReadComponentLogsAsync(Ct);
        Assert.Contains("dockerd", logs.Keys);
        Assert.Contains("registry", logs.Keys);
        Assert.Contains("kubedind", logs["kubedind-container"]);
        Assert.DoesNotContain("not readable", logs["dockerd"]);
    }

    [Fact]
    public async Task A_start_pushes_its_images_into_its_registry_before_it_is_ready()
    {
        var tag = ClusterTestSupport.UniqueName("at-start") + ":1";
        await ClusterTestSupport.BuildTinyImageAsync(fixture.Session, tag);
        try
        {
            await using var cluster = await fixture.Session.StartClusterAsync(ClusterTestSupport.ComposeSettings("pushes") with { ImagesToPush = [tag] }, Ct);

            Assert.True(cluster.Images.TryGetValue(tag, out var reference), "the image the start pushed is not among the cluster's images");
            var messages = fixture.Log.Lines.Select(l => l.Message).ToList();
            var pushed = messages.FindIndex(m => m.StartsWith($"cluster {cluster.Name}: 1 image pushed after ", StringComparison.Ordinal));
            var ready = messages.FindIndex(m => m.StartsWith($"cluster {cluster.Name}: ready in ", StringComparison.Ordinal));
            Assert.True(pushed >= 0 && pushed < ready, "the start did not say it pushed the image before it was ready:\n" + string.Join('\n', messages));
            var run = await cluster.ExecAsync("docker", "run", "--rm", reference);
            Assert.True(run.Succeeded, run.FirstErrorLine);
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(fixture.Session, tag);
        }
    }

    [Fact]
    public async Task A_start_with_an_image_to_push_that_is_not_on_the_engine_fails_in_one_line_and_creates_nothing()
    {
        var missing = ClusterTestSupport.UniqueName("not-built") + ":1";
        var settings = ClusterTestSupport.ComposeSettings("nopush") with { ImagesToPush = [missing] };

        var error = await Assert.ThrowsAsync<KubeDindException>(() => fixture.Session.StartClusterAsync(settings, Ct));

        Assert.Contains($"ClusterSettings.ImagesToPush names '{missing}'", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Null(await DockerContainers.FindByNameAsync(fixture.Session.Docker, settings.Name!, Ct));
        output.WriteLine(error.Message);
    }

    [Fact]
    public async Task Missing_cluster_image_fails_in_one_line()
    {
        var missing = ClusterTestSupport.UniqueName("no-such-image") + ":1";
        var error = await Assert.ThrowsAsync<KubeDindException>(() => fixture.Session.StartClusterAsync(ClusterTestSupport.ComposeSettings("noimage") with { Image = missing }, Ct));
        Assert.Contains(missing, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        output.WriteLine(error.Message);
    }

    [Fact]
    public async Task Kubernetes_without_k3s_in_the_image_fails_in_one_line()
    {
        // Explicit image-build settings without k3s: KUBEDIND_K3S_BINARY is not read, whatever this environment says.
        var error = await Assert.ThrowsAsync<KubeDindException>(() => fixture.Session.StartClusterAsync(ClusterTestSupport.ComposeSettings("nok3s") with { Kubernetes = true, ImageBuild = new ClusterImageSettings() }, Ct));
        Assert.Contains("Kubernetes needs k3s in the image", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        output.WriteLine(error.Message);

        // A compose-mode image named explicitly.
        var composeImage = (await ClusterImage.EnsureAsync(fixture.Session, new ClusterImageSettings(), Ct)).Tag;
        error = await Assert.ThrowsAsync<KubeDindException>(() => fixture.Session.StartClusterAsync(ClusterTestSupport.ComposeSettings("nok3s-image") with { Kubernetes = true, Image = composeImage }, Ct));
        Assert.Contains($"image {composeImage} has no k3s", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        output.WriteLine(error.Message);
    }

    [Fact]
    public async Task Forced_privileged_mode_fails_in_one_line_where_the_engine_refuses_it()
    {
        var settings = ClusterTestSupport.ComposeSettings("forced") with { Privilege = PrivilegeMode.Privileged, SweepFirst = false };
        var before = await EngineInventory.TakeAsync(fixture.Session.Docker);
        var error = await Assert.ThrowsAsync<KubeDindException>(() => fixture.Session.StartClusterAsync(settings, Ct));
        output.WriteLine(error.Message);
        Assert.Contains("refuses --privileged", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Empty(before.NewIn(await EngineInventory.TakeAsync(fixture.Session.Docker), fixture.Session.RunId));
    }

    [Fact]
    public async Task Unreachable_engine_fails_in_one_line()
    {
        var error = await Assert.ThrowsAsync<KubeDindException>(() => KubeDindSession.ConnectAsync(new CapturingLog(), new Uri("unix:///nonexistent/kdt-cluster.sock"), Ct));
        output.WriteLine(error.Message);
        Assert.Contains("does not answer", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Name_of_a_live_cluster_cannot_be_reused()
    {
        var error = await Assert.ThrowsAsync<KubeDindException>(() => fixture.Session.StartClusterAsync(ClusterTestSupport.ComposeSettings("dup") with { Name = Cluster.Name }, Ct));
        Assert.Contains("already used by a live cluster", error.Message);
        output.WriteLine(error.Message);
    }

    [Fact]
    public async Task Taken_host_port_fails_in_one_line()
    {
        var taken = int.Parse(Cluster.RegistryHostEndpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        var error = await Assert.ThrowsAsync<KubeDindException>(() => fixture.Session.StartClusterAsync(ClusterTestSupport.ComposeSettings("port") with { RegistryHostPort = taken }, Ct));
        Assert.Contains($"127.0.0.1:{taken} is taken", error.Message);
        output.WriteLine(error.Message);
    }

    [Fact]
    public async Task Two_clusters_run_at_once_with_separate_registries()
    {
        await using var second = await fixture.Session.StartClusterAsync(ClusterTestSupport.ComposeSettings("second"), Ct);
        Assert.NotEqual(Cluster.Name, second.Name);
        Assert.NotEqual(Cluster.RegistryHostEndpoint, second.RegistryHostEndpoint);

        var repository = ClusterTestSupport.UniqueName("only-first");
        await ClusterTestSupport.BuildTinyImageAsync(fixture.Session, repository + ":1");
        try
        {
            await Cluster.PushImageAsync(repository + ":1", cancellationToken: Ct);
            Assert.NotNull(await ClusterTestSupport.RegistryTagsAsync(Cluster.RegistryHostEndpoint, repository));
            Assert.Null(await ClusterTestSupport.RegistryTagsAsync(second.RegistryHostEndpoint, repository));
            var inner = await second.ExecAsync("docker", "image", "inspect", $"localhost:5000/{repository}:1");
            Assert.False(inner.Succeeded);
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(fixture.Session, repository + ":1");
        }
    }

    [Fact]
    public async Task Readiness_timeout_names_the_gate_and_shows_log_lines()
    {
        var log = new CapturingLog();
        using var session = await KubeDindSession.ConnectAsync(log, cancellationToken: Ct);
        var settings = ClusterTestSupport.ComposeSettings("timeout") with { ReadinessTimeout = TimeSpan.FromMilliseconds(100), Privilege = PrivilegeMode.Fallback };
        var before = await EngineInventory.TakeAsync(session.Docker);

        var error = await Assert.ThrowsAsync<KubeDindException>(() => session.StartClusterAsync(settings, Ct));

        output.WriteLine(error.Message);
        output.WriteLine(error.Details ?? "(no details)");
        Assert.Contains("gate '", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.Contains("log", error.Details ?? string.Empty);
        Assert.Empty(before.NewIn(await EngineInventory.TakeAsync(session.Docker), session.RunId));
        Assert.DoesNotContain(log.Lines, l => l.Level == KubeDindLogLevel.Warning && l.Message.Contains("privileged", StringComparison.Ordinal));
    }
}
