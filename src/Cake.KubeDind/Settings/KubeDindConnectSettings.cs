using Cake.Core.IO;
using KubeDind.Existing;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindConnect</c>: an existing cluster (kubeconfig + context), the namespace to deploy into and the
/// registry pushed images go to. Null properties keep the core's defaults (<see cref="ExistingClusterSettings"/>).
/// </summary>
public sealed class KubeDindConnectSettings
{
    /// <summary>The kubeconfig file; null = KUBECONFIG, else ~/.kube/config. Relative to Cake's working directory.</summary>
    public FilePath? Kubeconfig { get; set; }

    /// <summary>The context; null = the kubeconfig's current-context.</summary>
    public string? Context { get; set; }

    /// <summary>The namespace Deploy uses for objects that name none (kept after the run); default "default".</summary>
    public string? Namespace { get; set; }

    /// <summary>Create a namespace for this run and delete it at teardown (one left by a dead run is swept on the next connect).</summary>
    public bool ThrowawayNamespace { get; set; }

    /// <summary>The registry KubeDindPushImage pushes to (host[:port][/path]), as the host's engine reaches it.</summary>
    public string? Registry { get; set; }

    /// <summary>The same registry as the cluster's nodes pull from it, when the name differs.</summary>
    public string? RegistryPullName { get; set; }

    public string? RegistryUsername { get; set; }

    public string? RegistryPassword { get; set; }

    public TimeSpan? ConnectTimeout { get; set; }

    /// <summary>Diagnostics bundles go under &lt;this&gt;/&lt;context&gt;/; default artifacts/kubedind.</summary>
    public DirectoryPath? ArtifactsDirectory { get; set; }

    internal ExistingClusterSettings ToCore(DirectoryPath workingDirectory)
    {
        var core = new ExistingClusterSettings();
        return core with
        {
            Kubeconfig = Kubeconfig?.MakeAbsolute(workingDirectory).FullPath,
            Context = Context,
            Namespace = Namespace,
            ThrowawayNamespace = ThrowawayNamespace,
            Registry = Registry,
            RegistryPullName = RegistryPullName,
            RegistryUsername = RegistryUsername,
            RegistryPassword = RegistryPassword,
            ConnectTimeout = ConnectTimeout ?? core.ConnectTimeout,
            ArtifactsDirectory = KubeDindPaths.Artifacts(ArtifactsDirectory, workingDirectory),
        };
    }
}

public static class KubeDindConnectSettingsExtensions
{
    public static KubeDindConnectSettings WithKubeconfig(this KubeDindConnectSettings settings, FilePath kubeconfig) => Set(settings, s => s.Kubeconfig = kubeconfig);

    public static KubeDindConnectSettings WithContext(this KubeDindConnectSettings settings, string context) => Set(settings, s => s.Context = context);

    public static KubeDindConnectSettings WithNamespace(this KubeDindConnectSettings settings, string @namespace) => Set(settings, s => s.Namespace = @namespace);

    public static KubeDindConnectSettings WithThrowawayNamespace(this KubeDindConnectSettings settings, bool throwaway = true) => Set(settings, s => s.ThrowawayNamespace = throwaway);

    public static KubeDindConnectSettings WithRegistry(this KubeDindConnectSettings settings, string registry, string? pullName = null) =>
        Set(settings, s => (s.Registry, s.RegistryPullName) = (registry, pullName));

    public static KubeDindConnectSettings WithRegistryCredentials(this KubeDindConnectSettings settings, string username, string password) =>
        Set(settings, s => (s.RegistryUsername, s.RegistryPassword) = (username, password));

    public static KubeDindConnectSettings WithConnectTimeout(this KubeDindConnectSettings settings, TimeSpan timeout) => Set(settings, s => s.ConnectTimeout = timeout);

    public static KubeDindConnectSettings WithArtifactsDirectory(this KubeDindConnectSettings settings, DirectoryPath directory) => Set(settings, s => s.ArtifactsDirectory = directory);

    private static T Set<T>(T settings, Action<T> change)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(settings);
        change(settings);
        return settings;
    }
}
