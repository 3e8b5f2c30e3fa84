using System.Collections.Concurrent;
using Docker.DotNet;
using Nito.AsyncEx;

namespace KubeDind.Docker;

/// <summary>
/// Image builds and image removals on one engine, within this process: any number of builds run together, and a
/// removal waits until none runs. The classic builder looks for its cache among the children of each step's parent
/// image and reads each child it lists; an image removed between the listing and the read fails that build with
/// "failed to get digest sha256:…: no such file or directory".
/// </summary>
internal static class EngineImageLock
{
    private static readonly ConcurrentDictionary<object, AsyncReaderWriterLock> Locks = new();

    /// <summary>Held while a build runs.</summary>
    public static AwaitableDisposable<IDisposable> BuildAsync(IDockerClient docker, CancellationToken cancellationToken) =>
        For(docker).ReaderLockAsync(cancellationToken);

    /// <summary>Held while an image is removed.</summary>
    public static AwaitableDisposable<IDisposable> RemoveAsync(IDockerClient docker, CancellationToken cancellationToken) =>
        For(docker).WriterLockAsync(cancellationToken);

    // Two clients of the same endpoint are one engine; a client of another kind (a test double) is its own.
    private static AsyncReaderWriterLock For(IDockerClient docker) =>
        Locks.GetOrAdd(docker is DockerClient client ? client.Configuration.EndpointBaseUri.AbsoluteUri : docker, _ => new AsyncReaderWriterLock());
}
