using k8s;
using Nuke.Common;
using Nuke.Common.IO;
using Nuke.KubeDind;
using Serilog;

namespace KubeDind.Examples.Nuke;

/// <summary>
/// The example app's system test, driven by the KubeDind Nuke component:
/// StartMirror → StartCluster → PushImage (builds examples/app) → Deploy (examples/app manifests)
/// → SystemTest (calls the app through the Kubernetes API's service proxy) → Teardown.
/// </summary>
internal sealed class Build : NukeBuild, IKubeDind
{
    private const string AppImage = "kubedind-example-app:dev";
    private const string AppNamespace = "default";
    private const string AppService = "example-app";

    public static int Main() => Execute<Build>(x => ((IKubeDind)x).SystemTest);

    /// <summary>examples/ (this build's root is examples/nuke).</summary>
    private AbsolutePath ExamplesDirectory => RootDirectory.Parent;

    private AbsolutePath AppDirectory => ExamplesDirectory / "app";

    IEnumerable<KubeDindImage> IKubeDind.Images => [new KubeDindImage(AppImage, AppDirectory)];

    IEnumerable<AbsolutePath> IKubeDind.Manifests => [AppDirectory / "k8s"];

    AbsolutePath IKubeDind.DiagnosticsDirectory => ExamplesDirectory.Parent / "artifacts" / "kubedind" / "nuke-example";

    async Task IKubeDind.RunSystemTestsAsync()
    {
        var kubeconfig = ((IKubeDind)this).KubeconfigPath;
        using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        string? lastError = null;
        while (!timeout.IsCancellationRequested)
        {
            try
            {
                var response = await client.CoreV1.ConnectGetNamespacedServiceProxyWithPathAsync(AppService, AppNamespace, "healthz", cancellationToken: timeout.Token);
                using var reader = new StreamReader(response);
                var body = await reader.ReadToEndAsync(timeout.Token);
                Log.Information("example-app answered /healthz: {Body}", body.Trim());
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                lastError = ex.Message;
                await Task.Delay(TimeSpan.FromSeconds(2), timeout.Token);
            }
        }

        throw new KubeDindException($"example-app did not answer /healthz through service {AppNamespace}/{AppService} within 2 minutes (last error: {lastError}).");
    }
}
