using Cake.Core.IO;
using KubeDind.Existing;

namespace Cake.KubeDind;

/// <summary>
/// Settings for <c>KubeDindConnect</c>: the core's <see cref="ExistingClusterSettings"/> (an existing cluster's kubeconfig
/// and context, the namespace to deploy into and the registry pushed images go to), changed through the <c>With...</c>
/// methods or <c>Configure(s =&gt; s with { ... })</c>. Relative paths are resolved against Cake's working directory.
/// </summary>
public sealed class KubeDindConnectSettings
{
    /// <summary>The core's settings this wraps; every member has a working default.</summary>
    public ExistingClusterSettings Core { get; set; } = new();

    internal ExistingClusterSettings ToCore(DirectoryPath workingDirectory) => Core with
    {
        Kubeconfig = Core.Kubeconfig is null ? null : new FilePath(Core.Kubeconfig).MakeAbsolute(workingDirectory).FullPath,
        ArtifactsDirectory = new DirectoryPath(Core.ArtifactsDirectory).MakeAbsolute(workingDirectory).FullPath,
    };
}

public static class KubeDindConnectSettingsExtensions
{
    public static KubeDindConnectSettings Configure(this KubeDindConnectSettings settings, Func<ExistingClusterSettings, ExistingClusterSettings> change) => Set(settings, change);

    /// <summary>The kubeconfig file; default KUBECONFIG, else ~/.kube/config.</summary>
    public static KubeDindConnectSettings WithKubeconfig(this KubeDindConnectSettings settings, FilePath kubeconfig) => Set(settings, s => s with { Kubeconfig = kubeconfig.FullPath });

    /// <summary>The context; default the kubeconfig's current-context.</summary>
    public static KubeDindConnectSettings WithContext(this KubeDindConnectSettings settings, string context) => Set(settings, s => s with { Context = context });

    /// <summary>The namespace Deploy uses for objects that name none (kept after the run); default "default".</summary>
    public static KubeDindConnectSettings WithNamespace(this KubeDindConnectSettings settings, string @namespace) => Set(settings, s => s with { Namespace = @namespace });

    /// <summary>Create a namespace for this run and delete it at teardown (one left by a dead run is swept on the next connect).</summary>
    public static KubeDindConnectSettings WithThrowawayNamespace(this KubeDindConnectSettings settings, bool throwaway = true) => Set(settings, s => s with { ThrowawayNamespace = throwaway });

    /// <summary>The registry KubeDindPushImage pushes to (host[:port][/path]), and its name on the nodes when that differs.</summary>
    public static KubeDindConnectSettings WithRegistry(this KubeDindConnectSettings settings, string registry, string? pullName = null) =>
        Set(settings, s => s with { Registry = registry, RegistryPullName = pullName });

    public static KubeDindConnectSettings WithRegistryCredentials(this KubeDindConnectSettings settings, string username, string password) =>
        Set(settings, s => s with { RegistryUsername = username, RegistryPassword = password });

    public static KubeDindConnectSettings WithConnectTimeout(this KubeDindConnectSettings settings, TimeSpan timeout) => Set(settings, s => s with { ConnectTimeout = timeout });

    /// <summary>Diagnostics bundles go under &lt;this&gt;/&lt;context&gt;/; default artifacts/kubedind.</summary>
    public static KubeDindConnectSettings WithArtifactsDirectory(this KubeDindConnectSettings settings, DirectoryPath directory) => Set(settings, s => s with { ArtifactsDirectory = directory.FullPath });

    private static KubeDindConnectSettings Set(KubeDindConnectSettings settings, Func<ExistingClusterSettings, ExistingClusterSettings> change)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Core = change(settings.Core);
        return settings;
    }
}
