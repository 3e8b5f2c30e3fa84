using System.Net;
using System.Net.Sockets;
using Docker.DotNet;
using Docker.DotNet.Models;
using k8s;
using k8s.Autorest;
using k8s.Exceptions;
using k8s.KubeConfigModels;
using KubeDind.Cluster;
using KubeDind.Logging;

namespace KubeDind.Existing;

/// <summary>
/// Connects to a cluster that already exists: reads the kubeconfig, picks the context, checks the API server
/// answers (each failure one line naming the file, the context or the server), then sweeps and creates the
/// throwaway namespace when asked. Nothing on the cluster is changed before the server has answered.
/// </summary>
public sealed class ConnectCluster
{
    private readonly IKubeDindLog _log;
    private readonly string _runId;
    private readonly Func<CancellationToken, Task<IDockerClient>> _docker;
    private readonly bool _ownsDocker;

    /// <param name="docker">The engine PushImage uses; null = connect to DOCKER_HOST / the local socket on the first push.</param>
    public ConnectCluster(IKubeDindLog? log = null, string? runId = null, IDockerClient? docker = null)
    {
        _log = log ?? new ConsoleKubeDindLog();
        _runId = runId ?? (Environment.GetEnvironmentVariable("KUBEDIND_RUN_ID") is { Length: > 0 } id ? id : Guid.NewGuid().ToString("N")[..12]);
        _ownsDocker = docker is null;
        _docker = docker is null ? async ct => await Docker.DockerEngine.ConnectAsync(cancellationToken: ct).ConfigureAwait(false) : _ => Task.FromResult(docker);
    }

    /// <summary>The timeline the opened cluster's steps record into (a session's); null = one of the cluster's own.</summary>
    internal Run.RunTimeline? Timeline { get; init; }

    public async Task<ExistingCluster> RunAsync(ExistingClusterSettings settings, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var path = KubeconfigPath(settings.Kubeconfig);
        var config = LoadKubeconfig(path);
        var contextName = settings.Context ?? config.CurrentContext;
        var contexts = (config.Contexts ?? []).Select(c => c.Name).ToList();
        if (string.IsNullOrEmpty(contextName))
        {
            throw new KubeDindException($"connect: kubeconfig '{path}' has no current-context; name one of its contexts ({List(contexts)}) in ExistingClusterSettings.Context.");
        }

        if (!contexts.Contains(contextName))
        {
            throw new KubeDindException($"connect: context '{contextName}' is not in kubeconfig '{path}' (it has {List(contexts)}); pass one of those.");
        }

        KubernetesClientConfiguration clientConfig;
        try
        {
            clientConfig = KubernetesClientConfiguration.BuildConfigFromConfigObject(config, contextName);
        }
        catch (Exception ex) when (ex is KubeConfigException or IOException or FormatException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new KubeDindException($"connect: context '{contextName}' in kubeconfig '{path}' cannot be used: {FirstLine(ex.Message)}; fix its cluster or user entry.", inner: ex);
        }

        var name = settings.Name ?? contextName;
        var server = clientConfig.Host ?? "(no server)";
        var client = new k8s.Kubernetes(clientConfig);
        string version;
        try
        {
            version = await ProbeAsync(client, settings.ConnectTimeout, path, contextName, server, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            client.Dispose();
            throw;
        }

        _log.Info($"connect: {name} (context {contextName}, server {server}, Kubernetes {version})");
        var throwaway = new ThrowawayNamespaces(client, _log);
        string @namespace;
        bool owned;
        try
        {
            if (settings.ThrowawayNamespace)
            {
                if (settings.SweepFirst)
                {
                    await throwaway.SweepAsync(settings.Sweep, null, cancellationToken).ConfigureAwait(false);
                }

                @namespace = await throwaway.CreateAsync(settings.ThrowawayNamespacePrefix, _runId, name, cancellationToken).ConfigureAwait(false);
                owned = true;
            }
            else
            {
                @namespace = settings.Namespace ?? "default";
                owned = false;
            }
        }
        catch
        {
            client.Dispose();
            throw;
        }

        AuthConfig? auth = settings.RegistryUsername is { Length: > 0 } user
            ? new AuthConfig { Username = user, Password = settings.RegistryPassword ?? string.Empty, ServerAddress = settings.Registry?.Split('/')[0] }
            : null;
        var registry = settings.Registry is { Length: > 0 } push ? new RegistryTarget(push.TrimEnd('/'), (settings.RegistryPullName ?? push).TrimEnd('/'), auth) : null;
        return new ExistingCluster(client, _log, _docker, _ownsDocker, throwaway)
        {
            Name = name,
            Context = contextName,
            KubeconfigPath = path,
            ApiEndpoint = server,
            KubernetesVersion = version,
            DefaultNamespace = @namespace,
            Timeline = Timeline ?? new Run.RunTimeline(),
            OwnsNamespace = owned,
            Registry = registry,
            RunId = _runId,
            Settings = settings,
        };
    }

    /// <summary>The kubeconfig file: the given one, else the first of KUBECONFIG, else ~/.kube/config; a one-line error when it does not exist.</summary>
    internal static string KubeconfigPath(string? configured)
    {
        var path = configured;
        var source = "ExistingClusterSettings.Kubeconfig";
        if (string.IsNullOrWhiteSpace(path))
        {
            path = Environment.GetEnvironmentVariable("KUBECONFIG")?.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            source = "KUBECONFIG";
        }

        if (string.IsNullOrWhiteSpace(path))
        {
            path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".kube", "config");
            source = "the default location";
        }

        path = Path.GetFullPath(path);
        return File.Exists(path)
            ? path
            : throw new KubeDindException($"connect: kubeconfig '{path}' (from {source}) does not exist; pass the path of the cluster's kubeconfig file.");
    }

    private static K8SConfiguration LoadKubeconfig(string path)
    {
        try
        {
            return KubernetesClientConfiguration.LoadKubeConfig(new FileInfo(path), useRelativePaths: true);
        }
        catch (Exception ex) when (ex is KubeConfigException or IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException or ArgumentException)
        {
            throw new KubeDindException($"connect: kubeconfig '{path}' cannot be read: {FirstLine(ex.Message)}; check it is a kubeconfig file (kubectl config view --kubeconfig {path}).", inner: ex);
        }
    }

    /// <summary>GET /version within <paramref name="timeout"/>: the server answers with valid credentials, or a one-line error says which part failed.</summary>
    private static async Task<string> ProbeAsync(IKubernetes client, TimeSpan timeout, string path, string context, string server, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var where = $"the API server {server} (context '{context}' in '{path}')";
        try
        {
            var version = await client.Version.GetCodeAsync(deadline.Token).ConfigureAwait(false);
            // /version is readable anonymously on most clusters: check the credentials with a request that needs them.
            await client.CoreV1.ListNamespaceAsync(limit: 1, cancellationToken: deadline.Token).ConfigureAwait(false);
            return version.GitVersion;
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode is HttpStatusCode.Unauthorized)
        {
            throw new KubeDindException($"connect: {where} rejected the credentials (401 Unauthorized); refresh the user entry of context '{context}'.", inner: ex);
        }
        catch (HttpOperationException ex) when (ex.Response.StatusCode is HttpStatusCode.Forbidden)
        {
            // Listing namespaces may be forbidden to a namespace-scoped user: the server answered and knows the user.
            if (ex.Request.RequestUri.AbsolutePath.EndsWith("/namespaces", StringComparison.Ordinal))
            {
                var version = await client.Version.GetCodeAsync(deadline.Token).ConfigureAwait(false);
                return version.GitVersion;
            }

            throw new KubeDindException($"connect: {where} refused the request (403 Forbidden): {FirstLine(ex.Response.Content ?? string.Empty)}.", inner: ex);
        }
        catch (OperationCanceledException ex) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new KubeDindException($"connect: {where} did not answer within {timeout.TotalSeconds:0}s; check the server runs and is reachable from here (or raise ConnectTimeout).", inner: ex);
        }
        catch (Exception ex) when (ex is HttpRequestException or SocketException or IOException or System.Security.Authentication.AuthenticationException)
        {
            throw new KubeDindException($"connect: {where} does not answer: {Innermost(ex)}; check the server runs and is reachable from here.", inner: ex);
        }
        catch (HttpOperationException ex)
        {
            throw new KubeDindException($"connect: {where} answered {(int)ex.Response.StatusCode} {ex.Response.StatusCode}: {FirstLine(ex.Response.Content ?? string.Empty)}.", inner: ex);
        }
    }

    private static string Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return FirstLine(ex.Message).TrimEnd('.');
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();

    private static string List(IReadOnlyCollection<string> names) => names.Count == 0 ? "no contexts" : string.Join(", ", names.Select(n => $"'{n}'"));
}
