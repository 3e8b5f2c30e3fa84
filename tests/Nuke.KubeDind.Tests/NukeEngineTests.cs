using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Target = Nuke.Common.Target;

namespace Nuke.KubeDind.Tests;

/// <summary>
/// Runs FakeBuild (a real <c>NukeBuild, IKubeDind</c> whose core calls are recorded instead of reaching
/// Docker) as its own process, so Nuke's own planner, parameter parsing and failure handling decide
/// what runs, exactly as in a user's build.
/// </summary>
public sealed class NukeEngineTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kdt-nuke-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Dictionary<int, (Task<string> Stdout, Task<string> Stderr)> _output = [];

    public NukeEngineTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, ".nuke"));
        Directory.CreateDirectory(Path.Combine(_root, "deploy"));
        File.WriteAllText(Path.Combine(_root, "deploy", "app.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: example\n");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void The_component_declares_the_six_targets()
    {
        var targets = typeof(IKubeDind).GetProperties().Where(p => p.PropertyType == typeof(Target)).Select(p => p.Name).ToHashSet();

        Assert.Equal(["StartMirror", "StartCluster", "PushImage", "Deploy", "SystemTest", "Teardown"], targets.Order(Comparer<string>.Create((a, b) => Order(a) - Order(b))));

        static int Order(string t) => Array.IndexOf(["StartMirror", "StartCluster", "PushImage", "Deploy", "SystemTest", "Teardown"], t);
    }

    [Fact]
    public async Task SystemTest_runs_the_steps_in_order_then_tears_down()
    {
        var (exit, steps, output) = await RunAsync("--target", "SystemTest");

        Assert.True(exit == 0, output);
        Assert.Equal(["StartMirror", "StartCluster", "Deploy", "Smoke", "RunSystemTests", "Teardown", "Dispose"], steps.Select(s => s.Step));

        // The declared image is pushed by the start while the cluster boots; PushImage has nothing left to push.
        Assert.Equal(["example-app:dev"], steps.Single(s => s.Step == "StartCluster").Payload.GetProperty("ImagesToPush").EnumerateArray().Select(i => i.GetString()));
        Assert.Contains("example-app:dev: pushed while the cluster started", output, StringComparison.Ordinal);
        var systemTests = steps.Single(s => s.Step == "RunSystemTests").Payload;
        Assert.Equal("/tmp/fake-kubeconfig.yaml", systemTests.GetProperty("kubeconfig").GetString());
        Assert.Equal("localhost:5000/example-app:dev", systemTests.GetProperty("pushed").GetProperty("example-app:dev").GetString());
        Assert.Equal("127.0.0.1:41235", steps.Single(s => s.Step == "Smoke").Payload.GetProperty("registry").GetString());
        Assert.False(steps.Single(s => s.Step == "Teardown").Payload.GetProperty("keep").GetBoolean());
    }

    [Theory]
    [InlineData("Deploy", new[] { "StartMirror", "StartCluster", "Deploy", "CollectDiagnostics", "Teardown", "Dispose" })]
    [InlineData("StartCluster", new[] { "StartMirror", "StartCluster", "Teardown", "Dispose" })]
    [InlineData("Smoke", new[] { "StartMirror", "StartCluster", "Deploy", "Smoke", "CollectDiagnostics", "Teardown", "Dispose" })]
    public async Task Teardown_runs_after_a_failure(string failingStep, string[] expected)
    {
        var (exit, steps, output) = await RunAsync(["--target", "SystemTest"], ("KUBEDIND_FAKE_FAIL", failingStep));

        Assert.True(exit != 0, output);
        Assert.Equal(expected, steps.Select(s => s.Step));
        Assert.Contains($"{failingStep} failed on purpose", output);
    }

    [Fact]
    public async Task Interrupting_the_build_stops_the_running_step_then_tears_down()
    {
        var record = Path.Combine(_root, "record.jsonl");
        using var process = Start(["--target", "SystemTest"], ("KUBEDIND_FAKE_HANG", "Deploy"));
        var deadline = DateTime.UtcNow.AddMinutes(1);
        while (!(File.Exists(record) && File.ReadAllText(record).Contains("\"step\":\"Deploy\"", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline && !process.HasExited, "FakeBuild never reached Deploy");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        // A process started without job control from a non-interactive shell inherits SIGINT ignored, and .NET keeps
        // it so: then no Ctrl+C can reach the build, and the test would only time out.
        Assert.True(CatchesSigint(process.Id), "the test host ignores SIGINT (it was started in the background by a shell without job control), so FakeBuild cannot be interrupted: run the tests from a shell with job control (set -m)");
        using (var interrupt = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await interrupt.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        var (exit, steps, output) = await FinishAsync(process, record);

        Assert.True(exit != 0, output);
        Assert.Equal(["StartMirror", "StartCluster", "Deploy", "DeployCancelled"], steps.Select(s => s.Step).Take(4));
        Assert.Contains("Teardown", steps.Select(s => s.Step).Skip(4));
    }

    [Fact]
    public async Task Starting_a_cluster_alone_still_triggers_Teardown()
    {
        var (exit, steps, output) = await RunAsync("--target", "StartCluster");

        Assert.True(exit == 0, output);
        Assert.Equal(["StartMirror", "StartCluster", "Teardown", "Dispose"], steps.Select(s => s.Step));
    }

    [Fact]
    public async Task The_environment_variable_KUBEDIND_K3S_BINARY_still_names_the_k3s_binary()
    {
        var (exit, steps, output) = await RunAsync(["--target", "StartCluster"], ("KUBEDIND_K3S_BINARY", "/opt/k3s-from-env"));

        Assert.True(exit == 0, output);
        Assert.Equal("/opt/k3s-from-env", steps.Single(s => s.Step == "StartCluster").Payload.GetProperty("ImageBuild").GetProperty("K3sBinary").GetString());
    }

    [Fact]
    public async Task Unprefixed_CI_variables_and_a_build_parameter_of_the_same_name_are_not_taken()
    {
        var (exit, steps, output) = await RunAsync(["--target", "SystemTest", "--cluster-name", "the-builds-own"], ("CLUSTER_NAME", "from-ci"), ("K3S_BINARY", "/opt/unrelated"));

        Assert.True(exit == 0, output);
        var settings = steps.Single(s => s.Step == "StartCluster").Payload;
        Assert.Equal(JsonValueKind.Null, settings.GetProperty("Name").ValueKind);
        Assert.Equal(JsonValueKind.Null, settings.GetProperty("ImageBuild").ValueKind);
        Assert.Equal("the-builds-own", steps.Single(s => s.Step == "Smoke").Payload.GetProperty("ownClusterName").GetString());
    }

    [Fact]
    public async Task Help_lists_the_parameters_as_documented_beside_the_builds_own()
    {
        var (exit, steps, output) = await RunAsync("--help");

        Assert.True(exit == 0, output);
        Assert.Empty(steps);
        foreach (var parameter in new[] { "--kubedind-k3s-binary", "--kubedind-k3s-args", "--kubedind-cluster-name", "--kubedind-keep-cluster", "--kubedind-no-mirror", "--kubedind-no-warm-start", "--kubedind-no-layer-store", "--kubedind-agents", "--kubedind-connect-kubeconfig", "--kubedind-connect-context", "--cluster-name " })
        {
            Assert.Contains(parameter, output);
        }

        Assert.DoesNotContain("--kube-dind-", output);
    }

    [Fact]
    public async Task No_mirror_flag_skips_StartMirror_and_the_cluster_gets_no_mirror()
    {
        var (exit, steps, output) = await RunAsync("--target", "StartCluster", "--kubedind-no-mirror");

        Assert.True(exit == 0, output);
        Assert.Equal(["StartCluster", "Teardown", "Dispose"], steps.Select(s => s.Step));
        Assert.Empty(steps.Single(s => s.Step == "StartCluster").Payload.GetProperty("MirrorUrls").EnumerateArray());
    }

    [Fact]
    public async Task Teardown_declares_the_diagnostics_it_produces_for_CI_uploads()
    {
        var (exit, steps, output) = await RunAsync(["--target", "StartCluster"], ("KUBEDIND_FAKE_ARTIFACTS", "1"));

        Assert.True(exit == 0, output);
        var products = steps.Single(s => s.Step == "Artifacts").Payload.GetProperty("Teardown").EnumerateArray().Select(p => p.GetString());
        Assert.Equal([Path.Combine(_root, "artifacts", "kubedind", "**")], products);
    }

    [Fact]
    public async Task Deploy_declares_the_failure_report_and_the_junit_results_for_CI_uploads()
    {
        var (exit, steps, output) = await RunAsync(["--target", "Deploy"], ("KUBEDIND_FAKE_ARTIFACTS", "1"));

        Assert.True(exit == 0, output);
        var products = steps.Single(s => s.Step == "Artifacts").Payload.GetProperty("Deploy").EnumerateArray().Select(p => p.GetString());
        var artifacts = Path.Combine(_root, "artifacts", "kubedind");
        Assert.Equal([Path.Combine(artifacts, "*", "diagnostics-*", "report.html"), Path.Combine(artifacts, "*", "kubedind-results.xml")], products);
    }

    [Fact]
    public async Task Parameters_reach_the_core_settings()
    {
        var (exit, steps, output) = await RunAsync(
            ["--target", "SystemTest", "--kubedind-cluster-name", "ci-cluster", "--kubedind-keep-cluster", "--kubedind-k3s-binary", "/opt/k3s", "--kubedind-agents", "2"],
            ("KUBEDIND_K3S_ARGS", "--disable=traefik --kubelet-arg=v=2"));

        Assert.True(exit == 0, output);
        var settings = steps.Single(s => s.Step == "StartCluster").Payload;
        Assert.Equal("ci-cluster", settings.GetProperty("Name").GetString());
        Assert.Equal(2, settings.GetProperty("Agents").GetInt32());
        Assert.Equal(["--disable=traefik", "--kubelet-arg=v=2"], settings.GetProperty("K3sArgs").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(["http://kubedind-mirror-docker-io:5000"], settings.GetProperty("MirrorUrls").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("kubedind", settings.GetProperty("Network").GetString());
        Assert.Equal("/opt/k3s", settings.GetProperty("ImageBuild").GetProperty("K3sBinary").GetString());
        Assert.Equal(Path.Combine(_root, "artifacts", "kubedind"), settings.GetProperty("ArtifactsDirectory").GetString());
        Assert.True(settings.GetProperty("WarmStart").GetBoolean());
        Assert.True(steps.Single(s => s.Step == "Teardown").Payload.GetProperty("keep").GetBoolean());
    }

    [Fact]
    public async Task No_warm_start_parameter_turns_warm_starts_off()
    {
        var (exit, steps, output) = await RunAsync("--target", "StartCluster", "--kubedind-no-warm-start");

        Assert.True(exit == 0, output);
        Assert.False(steps.Single(s => s.Step == "StartCluster").Payload.GetProperty("WarmStart").GetBoolean());
    }

    [Fact]
    public async Task No_layer_store_parameter_turns_the_layer_store_off()
    {
        var (exit, steps, output) = await RunAsync("--target", "StartCluster", "--kubedind-no-layer-store");

        Assert.True(exit == 0, output);
        Assert.False(steps.Single(s => s.Step == "StartCluster").Payload.GetProperty("LayerStore").GetProperty("Enabled").GetBoolean());
    }

    [Fact]
    public async Task A_connect_kubeconfig_switches_StartCluster_to_connect_and_skips_the_mirror()
    {
        var kubeconfig = Path.Combine(_root, "staging.kubeconfig");
        var (exit, steps, output) = await RunAsync("--target", "SystemTest", "--kubedind-connect-kubeconfig", kubeconfig, "--kubedind-connect-context", "staging");

        Assert.True(exit == 0, output);
        Assert.Equal(["Connect", "PushImage", "Deploy", "Smoke", "RunSystemTests", "Teardown", "Dispose"], steps.Select(s => s.Step));
        var settings = steps.Single(s => s.Step == "Connect").Payload;
        Assert.Equal(kubeconfig, settings.GetProperty("Kubeconfig").GetString());
        Assert.Equal("staging", settings.GetProperty("Context").GetString());
        Assert.Equal(Path.Combine(_root, "artifacts", "kubedind"), settings.GetProperty("ArtifactsDirectory").GetString());
        Assert.Equal(kubeconfig, steps.Single(s => s.Step == "RunSystemTests").Payload.GetProperty("kubeconfig").GetString());
    }

    [Fact]
    public async Task Configure_overrides_of_the_build_reach_the_core_settings()
    {
        var (exit, steps, output) = await RunAsync(["--target", "SystemTest", "--kubedind-cluster-name", "from-parameter"], ("KUBEDIND_FAKE_OVERRIDES", "1"));

        Assert.True(exit == 0, output);
        var mirror = steps.Single(s => s.Step == "StartMirror").Payload;
        Assert.Equal("custom-mirror", mirror.GetProperty("Name").GetString());
        Assert.Equal("0.0.0.0", mirror.GetProperty("HostAddress").GetString());

        var cluster = steps.Single(s => s.Step == "StartCluster").Payload;
        Assert.Equal("from-override", cluster.GetProperty("Name").GetString());
        Assert.Equal("00:00:42", cluster.GetProperty("ReadinessTimeout").GetString());
        Assert.Equal(2, cluster.GetProperty("Privilege").GetInt32());
        Assert.Equal(["http://custom-mirror-docker-io:5000"], cluster.GetProperty("MirrorUrls").EnumerateArray().Select(a => a.GetString()));

        Assert.Equal(Path.Combine(_root, "artifacts", "kubedind"), cluster.GetProperty("ArtifactsDirectory").GetString());

        var deploy = steps.Single(s => s.Step == "Deploy").Payload;
        var deploySettings = deploy.GetProperty("settings");
        Assert.Equal("example", deploySettings.GetProperty("Namespace").GetString());
        Assert.Equal(_root, deploySettings.GetProperty("BaseDirectory").GetString());
        Assert.Equal([Path.Combine(_root, "deploy", "app.yaml")], deploySettings.GetProperty("Manifests").EnumerateArray().Select(a => a.GetString()));
    }

    private Task<(int Exit, List<(string Step, JsonElement Payload)> Steps, string Output)> RunAsync(params string[] args) => RunAsync(args, []);

    private async Task<(int Exit, List<(string Step, JsonElement Payload)> Steps, string Output)> RunAsync(string[] args, params (string Name, string Value)[] environment)
    {
        using var process = Start(args, environment);
        return await FinishAsync(process, Path.Combine(_root, "record.jsonl"));
    }

    private Process Start(string[] args, params (string Name, string Value)[] environment)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _root,
        };
        start.ArgumentList.Add(FakeBuildDll());
        foreach (var arg in (string[])[.. args, "--root", _root, "--no-logo"])
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["KUBEDIND_FAKE_RECORD"] = Path.Combine(_root, "record.jsonl");
        start.Environment["NUKE_TELEMETRY_OPTOUT"] = "1";
        foreach (var key in new[] { "KUBEDIND_FAKE_FAIL", "KUBEDIND_FAKE_HANG", "KUBEDIND_FAKE_OVERRIDES", "KUBEDIND_FAKE_ARTIFACTS", "KUBEDIND_K3S_ARGS", "KUBEDIND_K3S_BINARY", "CLUSTER_NAME", "K3S_BINARY" })
        {
            start.Environment.Remove(key);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
        _output[process.Id] = (process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
        return process;
    }

    private async Task<(int Exit, List<(string Step, JsonElement Payload)> Steps, string Output)> FinishAsync(Process process, string record)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
            var (hungSteps, hungOutput) = await ReadResultsAsync(process, record);
            Assert.Fail($"FakeBuild did not exit within 2 min; steps recorded: {string.Join(", ", hungSteps.Select(s => s.Step))}; its output:\n{hungOutput}");
        }

        var (steps, output) = await ReadResultsAsync(process, record);
        return (process.ExitCode, steps, output);
    }

    private async Task<(List<(string Step, JsonElement Payload)> Steps, string Output)> ReadResultsAsync(Process process, string record)
    {
        var (stdout, stderr) = _output[process.Id];
        var output = await stdout + await stderr;
        var steps = File.Exists(record)
            ? File.ReadAllLines(record).Select(l => JsonDocument.Parse(l).RootElement).Select(e => (e.GetProperty("step").GetString()!, e.GetProperty("payload"))).ToList()
            : [];
        return (steps, output);
    }

    /// <summary>Whether the process has a handler for SIGINT (bit 2 of SigCgt in /proc/PID/status).</summary>
    private static bool CatchesSigint(int pid)
    {
        var caught = File.ReadLines($"/proc/{pid}/status").Single(l => l.StartsWith("SigCgt:", StringComparison.Ordinal))["SigCgt:".Length..].Trim();
        return (Convert.ToUInt64(caught, 16) & (1UL << 1)) != 0;
    }

    private static string FakeBuildDll()
    {
        var directory = typeof(NukeEngineTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "FakeBuildDirectory").Value!;
        var dll = Path.Combine(directory, "Nuke.KubeDind.FakeBuild.dll");
        Assert.True(File.Exists(dll), $"FakeBuild was not built at {dll}");
        return dll;
    }
}
