using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Existing;
using KubeDind.Images;
using KubeDind.Logging;
using KubeDind.Run;
using KubeDind.Tests.Fakes;

namespace KubeDind.Tests.Run;

/// <summary>The run plan's decisions, shared by Cake, Nuke and the fixture, on recorded steps (no Docker).</summary>
public sealed class KubeDindRunPlanTests
{
    private readonly RecordingRunSteps _steps = new();

    private KubeDindRunPlan Plan(RecordingRunSteps? steps = null) =>
        new(NullKubeDindLog.Instance, (_, _) => Task.FromResult<IKubeDindRunSteps>(steps ?? _steps));

    [Fact]
    public void The_defaults_every_front_end_shares_are_mirror_on_diagnostics_on_keep_off()
    {
        var settings = new KubeDindRunSettings();

        Assert.True(settings.UseMirror);
        Assert.True(settings.DiagnosticsOnFailure);
        Assert.Equal(Environment.GetEnvironmentVariable(KubeDindRunSettings.KeepClusterVariable) == "1", settings.KeepCluster);
    }

    [Fact]
    public async Task A_run_starts_the_mirror_builds_then_starts_the_cluster_that_pushes_the_images_and_deploys_in_order()
    {
        await using var plan = Plan();
        var context = Directory.CreateTempSubdirectory("kdt-plan-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(context, "Dockerfile"), "FROM scratch\n");
            await plan.RunAsync(new KubeDindRunSettings { Images = [new KubeDindImage("a:1", context), new KubeDindImage("b:1")], Deploy = new DeploySettings { Manifests = ["x.yaml"] } }, TestContext.Current.CancellationToken);
        }
        finally
        {
            Directory.Delete(context, recursive: true);
        }

        Assert.Equal(["StartMirror", "BuildImage", "StartCluster", "Deploy"], _steps.Calls.Select(c => c.Step));
        Assert.Equal("a:1", Assert.IsType<KubeDindImage>(_steps.Calls[1].Argument).Tag);
        var cluster = Assert.IsType<ClusterSettings>(_steps.Calls[2].Argument);
        Assert.Equal(["http://m-docker-io:5000"], cluster.MirrorUrls);
        Assert.Equal(["a:1", "b:1"], cluster.ImagesToPush);
        Assert.Equal("c", plan.Cluster!.ClusterName);
    }

    [Fact]
    public async Task Images_the_start_pushed_are_not_pushed_again_once_but_a_second_push_sends_them()
    {
        await using var plan = Plan();
        KubeDindImage[] images = [new KubeDindImage("a:1")];

        await plan.StartClusterAsync(new ClusterSettings(), images, TestContext.Current.CancellationToken);
        await plan.PushImagesAsync(images, TestContext.Current.CancellationToken);
        await plan.PushImagesAsync(images, TestContext.Current.CancellationToken);

        Assert.Equal(["StartCluster", "PushImage"], _steps.Calls.Select(c => c.Step));
    }

    [Fact]
    public async Task An_image_the_settings_named_already_is_pushed_by_the_start_once_and_not_again()
    {
        await using var plan = Plan();
        KubeDindImage[] images = [new KubeDindImage("a:1")];

        await plan.StartClusterAsync(new ClusterSettings { ImagesToPush = ["a:1"] }, images, TestContext.Current.CancellationToken);
        await plan.PushImagesAsync(images, TestContext.Current.CancellationToken);

        Assert.Equal(["a:1"], Assert.IsType<ClusterSettings>(_steps.Calls.Single().Argument).ImagesToPush);
        Assert.Equal(["StartCluster"], _steps.Calls.Select(c => c.Step));
    }

    [Fact]
    public async Task On_an_existing_cluster_the_images_are_pushed_after_connecting()
    {
        await using var plan = Plan();

        await plan.RunAsync(new KubeDindRunSettings { Connect = new ExistingClusterSettings { Kubeconfig = "/tmp/k" }, Images = [new KubeDindImage("a:1")] }, TestContext.Current.CancellationToken);

        Assert.Equal(["Connect", "PushImage"], _steps.Calls.Select(c => c.Step));
    }

    [Fact]
    public async Task Without_the_mirror_or_on_an_existing_cluster_no_mirror_is_started()
    {
        await using var plan = Plan();
        await plan.RunAsync(new KubeDindRunSettings { UseMirror = false }, TestContext.Current.CancellationToken);
        await using var existing = Plan(new RecordingRunSteps());
        await existing.RunAsync(new KubeDindRunSettings { Connect = new ExistingClusterSettings { Kubeconfig = "/tmp/k" } }, TestContext.Current.CancellationToken);

        Assert.Equal(["StartCluster"], _steps.Calls.Select(c => c.Step));
        Assert.Null(plan.Mirror);
        Assert.Null(existing.Mirror);
        Assert.Equal("existing", existing.Cluster!.ClusterName);
    }

    [Theory]
    [InlineData(false, false, new[] { "Teardown" })]
    [InlineData(true, false, new[] { "CollectDiagnostics", "Teardown" })]
    [InlineData(true, true, new[] { "CollectDiagnostics", "Teardown" })]
    public async Task The_finish_diagnoses_a_failed_run_then_tears_down_or_keeps(bool failed, bool keep, string[] expected)
    {
        await using var plan = Plan();
        await plan.RunAsync(new KubeDindRunSettings { UseMirror = false, KeepCluster = keep }, TestContext.Current.CancellationToken);

        var diagnostics = await plan.FinishAsync(failed);

        Assert.Equal(expected, _steps.Calls.Skip(1).Select(c => c.Step));
        Assert.Equal(keep, _steps.Calls[^1].Argument);
        Assert.Equal(failed ? "/tmp/diagnostics" : null, diagnostics);
        Assert.Equal(keep, plan.Cluster is not null);
    }

    [Fact]
    public async Task The_finish_logs_the_runs_timeline_after_the_teardown()
    {
        var log = new Cluster.CapturingLog();
        await using var plan = new KubeDindRunPlan(log, (_, _) => Task.FromResult<IKubeDindRunSteps>(_steps));
        await plan.RunAsync(new KubeDindRunSettings { Deploy = new DeploySettings { Manifests = ["x.yaml"] } }, TestContext.Current.CancellationToken);
        await plan.PushImagesAsync([new KubeDindImage("a:1"), new KubeDindImage("b:1")], TestContext.Current.CancellationToken);

        await plan.FinishAsync(failed: false, keep: false);

        var lines = log.Lines.Select(l => l.Message).ToList();
        var title = lines.FindIndex(l => l.StartsWith("KubeDind timeline", StringComparison.Ordinal));
        Assert.True(title >= 0, string.Join('\n', lines));
        Assert.Equal(["mirror", "start", "push", "deploy", "test", "teardown", "total"], lines.Skip(title + 1).Select(l => l.TrimStart().Split(' ')[0]));
        Assert.Contains("2 images", lines.Single(l => l.TrimStart().StartsWith("push", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Same(_steps.Timeline, plan.Timeline);
    }

    [Fact]
    public async Task A_failed_start_is_finished_before_the_error_reaches_the_caller()
    {
        var steps = new RecordingRunSteps();

        var error = await Assert.ThrowsAsync<KubeDindException>(() => KubeDindRunPlan.StartAsync(
            new KubeDindRunSettings { UseMirror = false, KeepCluster = false, Deploy = new DeploySettings() },
            NullKubeDindLog.Instance,
            (_, _) => Task.FromResult<IKubeDindRunSteps>(steps),
            TestContext.Current.CancellationToken));

        Assert.Contains("Deploy has no manifests", error.Message);
        Assert.Equal(["StartCluster", "CollectDiagnostics", "Teardown", "Dispose"], steps.Calls.Select(c => c.Step));
    }

    [Fact]
    public async Task Stopping_in_flight_steps_cancels_one_that_has_not_reached_its_steps_yet()
    {
        var connecting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var steps = new RecordingRunSteps { HangAt = "Deploy" };
        await using var plan = new KubeDindRunPlan(NullKubeDindLog.Instance, async (_, token) =>
        {
            await connecting.Task.WaitAsync(token);
            return steps;
        });

        // The step waits for its steps to connect; the stop lands meanwhile and must still find (and cancel) it.
        var deploy = plan.DeployAsync(new DeploySettings { Manifests = ["x.yaml"] }, TestContext.Current.CancellationToken);
        await plan.StopInFlightStepsAsync(TimeSpan.FromSeconds(10));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => deploy);
        Assert.Empty(steps.Calls);
    }

    [Fact]
    public async Task Stopping_in_flight_steps_cancels_a_running_step_and_waits_for_it()
    {
        var steps = new RecordingRunSteps { HangAt = "Deploy" };
        await using var plan = Plan(steps);
        var deploy = plan.DeployAsync(new DeploySettings { Manifests = ["x.yaml"] }, TestContext.Current.CancellationToken);
        while (steps.Calls.Count == 0)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        await plan.StopInFlightStepsAsync(TimeSpan.FromSeconds(10));

        Assert.True(deploy.IsCanceled, "the running Deploy was not cancelled and finished within the grace");
    }

    [Fact]
    public async Task Images_are_checked_before_anything_starts()
    {
        var context = Directory.CreateTempSubdirectory("kdt-run-images-").FullName;
        try
        {
            Assert.Contains("2 times", Assert.Throws<KubeDindException>(() => KubeDindImage.ValidateAll([new("a:1"), new("a:1")], "here")).Message);
            Assert.Contains("no tag", Assert.Throws<KubeDindException>(() => KubeDindImage.ValidateAll([new(" ")], "here")).Message);
            Assert.Contains("does not exist", Assert.Throws<KubeDindException>(() => KubeDindImage.ValidateAll([new("a:1", "/nonexistent/kdt-run")], "here")).Message);
            Assert.Contains("no Dockerfile", Assert.Throws<KubeDindException>(() => KubeDindImage.ValidateAll([new("a:1", context)], "here")).Message);
            File.WriteAllText(Path.Combine(context, "Dockerfile"), "FROM scratch\n");
            Assert.Equal(2, KubeDindImage.ValidateAll([new("a:1"), new("b:1", context)], "here").Count);

            await using var plan = Plan();
            await Assert.ThrowsAsync<KubeDindException>(() => plan.RunAsync(new KubeDindRunSettings { Images = [new("a:1", "/nonexistent/kdt-run")] }, TestContext.Current.CancellationToken));
            Assert.Empty(_steps.Calls);
        }
        finally
        {
            Directory.Delete(context, recursive: true);
        }
    }

    [Theory]
    [InlineData(new string[0], new string[0])]
    [InlineData(new[] { "  --x  --y=1 " }, new[] { "--x", "--y=1" })]
    [InlineData(new[] { "disable=traefik", "-v=2" }, new[] { "--disable=traefik", "-v=2" })]
    [InlineData(new[] { "disable=traefik kubelet-arg=v=2" }, new[] { "--disable=traefik", "--kubelet-arg=v=2" })]
    [InlineData(new[] { "--disable traefik --node-label \"a=b c\"" }, new[] { "--disable", "traefik", "--node-label", "a=b c" })]
    [InlineData(new[] { "--node-label=team=\"a b\" --kubelet-arg=v=2" }, new[] { "--node-label=team=a b", "--kubelet-arg=v=2" })]
    [InlineData(new[] { "disable=traefik --kubelet-arg=v=2" }, new[] { "--disable=traefik", "--kubelet-arg=v=2" })]
    [InlineData(new[] { "debug", "cluster-init" }, new[] { "--debug", "--cluster-init" })]
    public void K3s_arguments_split_as_a_shell_would_values_with_spaces_stay_whole_and_dashless_values_get_dashes(string[] input, string[] expected) =>
        Assert.Equal(expected, new KubeDindRunSettings().WithK3sArgs(input).Cluster.K3sArgs);
}
