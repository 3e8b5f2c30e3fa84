using KubeDind.Deploy;
using KubeDind.Diagnostics;
using KubeDind.Tests.Fakes;

namespace KubeDind.Tests.Security;

/// <summary>
/// Diagnostics bundles are owner-only (0700 directories, 0600 files), list Secrets by name and key only, and never
/// hold a Secret's value or a credential-looking setting, wherever it shows up (here: in the cluster's own logs).
/// Run against <see cref="FakeKubernetesApi"/> (a fake API server, not a cluster) because CI has no k3s and must not
/// lose this check; RealClusterParityTests shows the same on a real k3s, with the values in a pod's own log.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DiagnosticsPrivacyTests : IAsyncLifetime
{
    private const string SecretValue = "s3cr3t-db-pa55";
    private readonly FakeKubernetesApi _fake = new();
    private readonly string _artifacts = Path.Combine(Path.GetTempPath(), "kdt-privacy-" + Guid.NewGuid().ToString("N")[..8]);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        await _fake.DisposeAsync();
        if (Directory.Exists(_artifacts))
        {
            Directory.Delete(_artifacts, recursive: true);
        }
    }

    [Fact]
    public async Task Bundle_is_owner_only_lists_secrets_by_key_and_holds_no_secret_value_or_credential()
    {
        var context = new DeployContext
        {
            ClusterName = "kdt-privacy",
            ArtifactsDirectory = _artifacts,
            ExtraLogs = _ => Task.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string>
            {
                ["k3s"] = $"starting with db password {SecretValue}\nREGISTRY_PASSWORD=hunter2-registry\nclient presented eyJhbGciOi-token-value\n"
                    // The kubelet's log of a container that failed to start dumps its spec, env values and all.
                    + "E1205 11:46:03.401 kuberuntime_manager.go:864] container &Container{Name:app,Env:[]EnvVar{EnvVar{Name:DB_PASSWORD,Value:,ValueFrom:&EnvVarSource{SecretKeyRef:&SecretKeySelector{Key:password,},},},"
                    + "EnvVar{Name:MIRROR_TOKEN,Value:kubelet-t0ken,with a comma,ValueFrom:nil,},EnvVar{Name:LOG_LEVEL,Value:debug,ValueFrom:nil,},},} start failed in pod\n",
                ["dockerd"] = "pulling with Authorization: Basic dXNlcjpodW50ZXIy\nmirror http://ci:t0ken-in-url@mirror.example:5000\n{\"auth\": \"Y2k6aHVudGVyMg==\"}\n",
            }),
        };
        using var client = _fake.CreateClient();
        var secret = $"apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: default}}\ntype: Opaque\ndata: {{password: {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(SecretValue))}}}\n";
        // As Kubernetes before 1.24 makes one for every service account: its "namespace" value is just a name, not a secret.
        var token = $"apiVersion: v1\nkind: Secret\nmetadata: {{name: default-token-x7k2q, namespace: default}}\ntype: kubernetes.io/service-account-token\ndata: {{namespace: {Convert.ToBase64String("default"u8)}, token: {Convert.ToBase64String("eyJhbGciOi-token-value"u8)}}}\n";
        await DeployStep.RunAsync(client, new DeploySettings { InlineManifests = [secret, token], Timeout = TimeSpan.FromSeconds(20), PollInterval = TimeSpan.FromMilliseconds(50) }, context, TestContext.Current.CancellationToken);

        var bundle = await DeployStep.CollectDiagnosticsAsync(client, context, TestContext.Current.CancellationToken);

        var secrets = await File.ReadAllTextAsync(Path.Combine(bundle.Directory, "secrets.txt"), TestContext.Current.CancellationToken);
        Assert.Contains("default/db (Opaque): password", secrets);
        Assert.Contains("default/default-token-x7k2q (kubernetes.io/service-account-token): namespace, token", secrets);
        foreach (var directory in Directory.GetDirectories(_artifacts, "*", SearchOption.AllDirectories).Append(bundle.Directory))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(directory));
        }

        var everything = string.Empty;
        foreach (var file in Directory.GetFiles(bundle.Directory, "*", SearchOption.AllDirectories))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            everything += await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken);
        }

        foreach (var leaked in new[] { SecretValue, Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(SecretValue)), "hunter2-registry", "dXNlcjpodW50ZXIy", "t0ken-in-url", "Y2k6aHVudGVyMg==", "eyJhbGciOi-token-value", "kubelet-t0ken", "with a comma" })
        {
            Assert.DoesNotContain(leaked, everything, StringComparison.Ordinal);
        }

        Assert.Contains("starting with db password " + Redaction.Marker, everything, StringComparison.Ordinal);
        Assert.Contains("mirror http://ci:" + Redaction.Marker + "@mirror.example:5000", everything, StringComparison.Ordinal);
        Assert.Contains("client presented " + Redaction.Marker, everything, StringComparison.Ordinal);
        Assert.Contains($"EnvVar{{Name:MIRROR_TOKEN,Value:{Redaction.Marker},ValueFrom:nil,}},EnvVar{{Name:LOG_LEVEL,Value:debug,ValueFrom:nil,}}", everything, StringComparison.Ordinal);
        TestContext.Current.TestOutputHelper?.WriteLine(everything);
    }
}
