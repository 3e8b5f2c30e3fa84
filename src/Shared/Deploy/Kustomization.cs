using System.Formats.Tar;
using Docker.DotNet;
using Docker.DotNet.Models;
using KubeDind.Docker;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace KubeDind.Deploy;

/// <summary>Renders a kustomization directory into plain manifest YAML.</summary>
internal interface IKustomize
{
    Task<string> BuildAsync(KustomizationTree tree, CancellationToken cancellationToken);
}

/// <summary>
/// The files a kustomization needs: its own folder's files and every local base, resource, component, patch and
/// generator file it names, recursively, relative to their common ancestor (<see cref="Root"/>). Remote bases (URLs)
/// are refused: the cluster renders offline.
/// </summary>
internal sealed record KustomizationTree(string KustomizationFile, string Root, IReadOnlyList<string> Files)
{
    /// <summary>The names kustomize looks for, in its order.</summary>
    public static readonly string[] FileNames = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

    // Fields holding paths, as kustomize's Kustomization type names them (v2 to v5).
    private static readonly string[] PathLists = ["resources", "bases", "components", "patchesStrategicMerge", "crds", "configurations", "generators", "transformers", "validators"];
    private static readonly string[] PathObjects = ["patches", "patchesJson6902", "replacements"];
    private static readonly string[] Generators = ["configMapGenerator", "secretGenerator"];

    public string Directory => Path.GetDirectoryName(KustomizationFile)!;

    /// <summary>The kustomization file in <paramref name="directory"/>, or null when it holds none.</summary>
    public static string? FindIn(string directory) =>
        FileNames.Select(n => Path.Combine(directory, n)).FirstOrDefault(File.Exists);

    /// <summary>True when <paramref name="path"/> is a kustomization file by name.</summary>
    public static bool IsKustomizationFile(string path) => FileNames.Contains(Path.GetFileName(path), StringComparer.Ordinal);

    public static KustomizationTree Collect(string kustomizationFile)
    {
        var files = new SortedSet<string>(StringComparer.Ordinal);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        Visit(kustomizationFile, files, visited);
        var root = CommonAncestor(files);
        return new KustomizationTree(kustomizationFile, root, [.. files]);
    }

    private static void Visit(string kustomizationFile, SortedSet<string> files, HashSet<string> visited)
    {
        var directory = Path.GetDirectoryName(kustomizationFile)!;
        if (!visited.Add(directory))
        {
            return;
        }

        // Its own folder's files: kustomize may read any of them (a field this list does not know, say).
        foreach (var file in System.IO.Directory.EnumerateFiles(directory))
        {
            files.Add(file);
        }

        foreach (var reference in References(kustomizationFile))
        {
            if (IsRemote(reference))
            {
                throw new KubeDindException($"Deploy: {kustomizationFile} names the remote base '{reference}'; the cluster renders offline: vendor it into a local folder and name that instead.");
            }

            var path = Path.GetFullPath(reference, directory);
            if (System.IO.Directory.Exists(path))
            {
                var nested = FindIn(path) ?? throw new KubeDindException($"Deploy: {kustomizationFile} names the folder '{reference}', which holds no kustomization.yaml; add one there, or name its files.");
                Visit(nested, files, visited);
            }
            else if (File.Exists(path))
            {
                files.Add(path);
            }
            else
            {
                throw new KubeDindException($"Deploy: {kustomizationFile} names '{reference}', which does not exist (looked at {path}); fix the path in the kustomization.");
            }
        }
    }

    /// <summary>Every local path <paramref name="kustomizationFile"/> names.</summary>
    private static IEnumerable<string> References(string kustomizationFile)
    {
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(kustomizationFile);
            stream.Load(reader);
        }
        catch (YamlException ex)
        {
            throw new KubeDindException($"Deploy: {kustomizationFile}: YAML syntax error at line {ex.Start.Line}: {(ex.InnerException ?? ex).Message.Split('\n')[0]}; fix the kustomization.", inner: ex);
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            yield break;
        }

        foreach (var field in PathLists)
        {
            foreach (var value in Strings(root, field))
            {
                yield return value;
            }
        }

        foreach (var field in PathObjects)
        {
            foreach (var item in Items(root, field))
            {
                foreach (var value in Strings(item, "path"))
                {
                    yield return value;
                }
            }
        }

        foreach (var field in Generators)
        {
            foreach (var item in Items(root, field))
            {
                // files: [path, key=path]; envs: [path]; env: path (kustomize v2).
                foreach (var value in Strings(item, "files"))
                {
                    yield return value.Contains('=', StringComparison.Ordinal) ? value[(value.IndexOf('=', StringComparison.Ordinal) + 1)..] : value;
                }

                foreach (var value in Strings(item, "envs").Concat(Strings(item, "env")))
                {
                    yield return value;
                }
            }
        }
    }

    /// <summary>The plain strings under <paramref name="key"/> (one scalar or a list); inline YAML (several lines) is no path.</summary>
    private static IEnumerable<string> Strings(YamlMappingNode node, string key)
    {
        if (!node.Children.TryGetValue(new YamlScalarNode(key), out var value))
        {
            return [];
        }

        var scalars = value switch
        {
            YamlScalarNode scalar => [scalar],
            YamlSequenceNode sequence => sequence.Children.OfType<YamlScalarNode>(),
            _ => [],
        };
        return scalars.Select(s => s.Value ?? string.Empty).Where(s => s.Length > 0 && !s.Contains('\n', StringComparison.Ordinal));
    }

    private static IEnumerable<YamlMappingNode> Items(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) && value is YamlSequenceNode sequence
            ? sequence.Children.OfType<YamlMappingNode>()
            : [];

    private static bool IsRemote(string reference) =>
        reference.Contains("://", StringComparison.Ordinal)
        || reference.StartsWith("github.com/", StringComparison.Ordinal)
        || reference.StartsWith("git@", StringComparison.Ordinal)
        || reference.Contains("?ref=", StringComparison.Ordinal);

    private static string CommonAncestor(IEnumerable<string> files)
    {
        string? common = null;
        foreach (var directory in files.Select(f => Path.GetDirectoryName(f)!))
        {
            common = common is null ? directory : Common(common, directory);
        }

        return common ?? "/";

        static string Common(string a, string b)
        {
            var left = a.Split(Path.DirectorySeparatorChar);
            var right = b.Split(Path.DirectorySeparatorChar);
            var same = left.Zip(right).TakeWhile(p => p.First == p.Second).Count();
            var joined = string.Join(Path.DirectorySeparatorChar, left.Take(same));
            return joined.Length == 0 ? Path.DirectorySeparatorChar.ToString() : joined;
        }
    }
}

/// <summary>
/// Renders kustomizations with the cluster's own kubectl (<c>kubectl kustomize</c>) inside the cluster container, so the
/// host needs no kubectl or kustomize: the tree is copied into a fresh folder under /tmp, rendered, and removed.
/// k3s v1.21's kubectl embeds kustomize v4 (folders in resources, replicas, patches with targets, components); kubectl 1.27
/// and newer embed v5.
/// </summary>
internal sealed class ContainerKustomize(IDockerClient docker, string containerId) : IKustomize
{
    /// <summary>How long one render may take.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(2);

    public async Task<string> BuildAsync(KustomizationTree tree, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tree);
        var folder = $"kubedind-kustomize-{Guid.NewGuid():N}";
        var inContainer = $"/tmp/{folder}";
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        try
        {
            await using (var tar = await ToTarAsync(tree, folder, deadline.Token).ConfigureAwait(false))
            {
                await docker.Containers.ExtractArchiveToContainerAsync(containerId, new ContainerPathStatParameters { Path = "/tmp" }, tar, deadline.Token).ConfigureAwait(false);
            }

            var target = $"{inContainer}/{Path.GetRelativePath(tree.Root, tree.Directory).Replace(Path.DirectorySeparatorChar, '/')}";
            var result = await ContainerExec.RunAsync(docker, containerId, ["kubectl", "kustomize", target], cancellationToken: deadline.Token).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                var reason = result.FirstErrorLine.Replace(inContainer, tree.Root, StringComparison.Ordinal);
                reason = reason.StartsWith("error: ", StringComparison.Ordinal) ? reason["error: ".Length..] : reason;
                throw new KubeDindException($"Deploy: kustomization {tree.KustomizationFile} does not build: kustomize says \"{reason}\"; fix the kustomization (kubectl kustomize {tree.Directory} shows the same).", result.StandardError);
            }

            return result.StandardOutput;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new KubeDindException($"Deploy: kustomization {tree.KustomizationFile} did not render within {Timeout.TotalSeconds:0} s (kubectl kustomize in the cluster container); is the cluster container overloaded?");
        }
        catch (DockerApiException ex)
        {
            throw new KubeDindException($"Deploy: cannot render kustomization {tree.KustomizationFile} in the cluster container: {DockerEngine.FirstLine(ex)}", inner: ex);
        }
        finally
        {
            try
            {
                using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await ContainerExec.RunAsync(docker, containerId, ["rm", "-rf", inContainer], cancellationToken: cleanup.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is DockerApiException or OperationCanceledException or IOException)
            {
                // The container went away; nothing is left to remove.
            }
        }
    }

    private static async Task<Stream> ToTarAsync(KustomizationTree tree, string folder, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        await using (var tar = new TarWriter(buffer, TarEntryFormat.Pax, leaveOpen: true))
        {
            var directories = new SortedSet<string>(StringComparer.Ordinal) { folder };
            foreach (var file in tree.Files)
            {
                var relative = Path.GetRelativePath(tree.Root, Path.GetDirectoryName(file)!).Replace(Path.DirectorySeparatorChar, '/');
                var parts = relative == "." ? [] : relative.Split('/');
                for (var i = 1; i <= parts.Length; i++)
                {
                    directories.Add($"{folder}/{string.Join('/', parts.Take(i))}");
                }
            }

            foreach (var directory in directories)
            {
                await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.Directory, directory + "/") { Mode = (UnixFileMode)0b111_101_101 }, cancellationToken).ConfigureAwait(false);
            }

            foreach (var file in tree.Files)
            {
                var name = $"{folder}/{Path.GetRelativePath(tree.Root, file).Replace(Path.DirectorySeparatorChar, '/')}";
                await using var content = File.OpenRead(file);
                var entry = new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = content, Mode = (UnixFileMode)0b110_100_100 };
                await tar.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
            }
        }

        buffer.Position = 0;
        return buffer;
    }
}
