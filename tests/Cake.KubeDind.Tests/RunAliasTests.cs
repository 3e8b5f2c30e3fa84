using Cake.Core;
using Cake.KubeDind.Tests.Fakes;
using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Images;
using KubeDind.Mirror;
using KubeDind.Run;

namespace Cake.KubeDind.Tests;

/// <summary>KubeDindStartRun / KubeDindFinishRun against a fake context and fake run steps: the core's plan, Cake's paths.</summary>
public sealed class RunAliasTests
{
    private readonly FakeCakeContext _context = new("/work/repo");
    private readonly FakeKubeDindCore _core = new();

    public RunAliasTests() => KubeDindAliases.UseCore(_context, _core);

    [Fact]
    public async Task StartRun_runs_the_plan_with_the_mirror_on_by_default_and_paths_made_absolute()
    {
        var run = await _context.KubeDindStartRun(new KubeDindRunSettings
        {
            Images = [new KubeDindImage("app:dev"), new KubeDindImage("other:dev")],
            Deploy = new DeploySettings { Manifests = ["deploy"] },
            KeepCluster = false,
        }.WithK3sArgs(["--disable traefik"]));

        Assert.Equal(["StartMirror", "StartCluster", "Deploy"], _core.Calls.Select(c => c.Step));
        var cluster = Assert.IsType<ClusterSettings>(_core.Calls[1].Argument);
        Assert.Equal(["--disable", "traefik"], cluster.K3sArgs);
        Assert.Equal(["http://kdt-mirror-docker-io:5000"], cluster.MirrorUrls);
        Assert.Equal(["app:dev", "other:dev"], cluster.ImagesToPush);
        Assert.Equal("/work/repo", Assert.IsType<DeploySettings>(_core.Calls[2].Argument).BaseDirectory);
        Assert.Equal("kdt-cluster", run.Cluster!.ClusterName);

        await _context.KubeDindFinishRun(run, failed: true);
        Assert.Equal(["CollectDiagnostics", "Teardown"], _core.Calls.Skip(3).Select(c => c.Step));
        Assert.Equal(false, _core.Calls[^1].Argument);
    }

    [Fact]
    public async Task A_failed_start_finishes_the_run_before_the_Cake_error_and_keeps_when_asked()
    {
        _core.RunStepFailure = "Deploy";

        var error = await Assert.ThrowsAsync<CakeException>(() => _context.KubeDindStartRun(new KubeDindRunSettings
        {
            UseMirror = false,
            Deploy = new DeploySettings { Manifests = ["deploy"] },
            KeepCluster = true,
        }));

        Assert.Contains("Deploy failed on purpose", error.Message);
        Assert.Equal(["StartCluster", "Deploy", "CollectDiagnostics", "Teardown"], _core.Calls.Select(c => c.Step));
        Assert.Equal(true, _core.Calls[^1].Argument);
    }
}
