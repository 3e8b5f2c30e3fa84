using KubeDind.Cluster;
using KubeDind.Deploy;
using KubeDind.Images;
using KubeDind.Mirror;
using KubeDind.Run;
using Nuke.Common;
using Nuke.Common.IO;
using Nuke.Common.Tooling;

namespace Nuke.KubeDind.FakeBuild;

/// <summary>A user's build as docs/nuke.md describes it, with a recording driver instead of Docker.</summary>
internal sealed class Build : NukeBuild, IKubeDind
{
    private static readonly bool Overrides = Environment.GetEnvironmentVariable("KUBEDIND_FAKE_OVERRIDES") == "1";

    /// <summary>KUBEDIND_FAKE_REAL=1: the real Docker-backed driver, a compose-mode cluster, one small image.</summary>
    private static readonly bool Real = Environment.GetEnvironmentVariable("KUBEDIND_FAKE_REAL") == "1";

    /// <summary>The build's own parameter of the name the component once used: they must not collide.</summary>
    [Parameter("The build's own cluster name, unrelated to KubeDind's")]
    public string? ClusterName { get; set; }

    public static int Main()
    {
        if (!Real)
        {
            KubeDindRun.StepsFactory = (_, _) => Task.FromResult<IKubeDindRunSteps>(new RecordingDriver());
        }

        return Execute<Build>(x => ((IKubeDind)x).SystemTest);
    }

    IEnumerable<KubeDindImage> IKubeDind.Images => Real
        ? [new KubeDindImage(Environment.GetEnvironmentVariable("KUBEDIND_FAKE_IMAGE")!, AbsolutePath.Create(Environment.GetEnvironmentVariable("KUBEDIND_FAKE_CONTEXT"))) { BaseImageBuildArg = "BASE_IMAGE" }]
        : [new KubeDindImage("example-app:dev")];

    IEnumerable<AbsolutePath> IKubeDind.Manifests => [RootDirectory / "deploy" / "app.yaml"];

    Configure<MirrorSettings> IKubeDind.StartMirrorSettings => _ => Overrides ? _ with { Name = "custom-mirror", HostAddress = "0.0.0.0" } : _;

    Configure<ClusterSettings> IKubeDind.StartClusterSettings => _ => Overrides
        ? _ with { ReadinessTimeout = TimeSpan.FromSeconds(42), Privilege = PrivilegeMode.Fallback, Name = "from-override" }
        : Real ? _ with { Kubernetes = false, ReadinessTimeout = TimeSpan.FromMinutes(4) } : _;

    Configure<DeploySettings> IKubeDind.DeploySettings => _ => Overrides ? _ with { Namespace = "example" } : _;

    Task IKubeDind.RunSystemTestsAsync()
    {
        new RecordingDriver().Record("RunSystemTests", new { kubeconfig = (string)((IKubeDind)this).KubeconfigPath, pushed = ((IKubeDind)this).PushedImages });
        return Task.CompletedTask;
    }

    /// <summary>With the real driver: what a later target of the user's build sees of the running cluster.</summary>
    Target Inspect => _ => _
        .DependsOn<IKubeDind>(x => x.PushImage)
        .Before<IKubeDind>(x => x.Teardown)
        .Executes(() => new RecordingDriver().Record("Inspect", new
        {
            name = ((IKubeDind)this).ClusterEndpoints.ClusterName,
            container = ((IKubeDind)this).RunningCluster.ContainerId,
            registry = ((IKubeDind)this).RegistryHostEndpoint,
            pushed = ((IKubeDind)this).PushedImages,
        }));

    /// <summary>A user target between Deploy and SystemTest, as docs/nuke.md recommends for own tests.</summary>
    Target Smoke => _ => _
        .DependsOn<IKubeDind>(x => x.Deploy)
        .DependentFor<IKubeDind>(x => x.SystemTest)
        .Executes(() => new RecordingDriver().Record("Smoke", new { registry = ((IKubeDind)this).RegistryHostEndpoint, ownClusterName = ClusterName }));

    /// <summary>KUBEDIND_FAKE_ARTIFACTS=1: records what each target declares it produces (what CI integrations upload).</summary>
    protected override void OnBuildFinished()
    {
        if (Environment.GetEnvironmentVariable("KUBEDIND_FAKE_ARTIFACTS") == "1")
        {
            new RecordingDriver().Record("Artifacts", ExecutionPlan.ToDictionary(t => t.Name, t => t.ArtifactProducts.ToList()));
        }
    }
}
