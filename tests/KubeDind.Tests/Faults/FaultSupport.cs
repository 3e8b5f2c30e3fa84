using System.Text.RegularExpressions;
using KubeDind.Cluster;
using KubeDind.Logging;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Faults;

/// <summary>The fault tests start and break clusters of their own: one at a time, so the 2-core machine is not swamped.</summary>
[CollectionDefinition(Name)]
public sealed class FaultCollection
{
    public const string Name = "Faults";
}

/// <summary>A log that cancels <see cref="Token"/> the moment a line matching the trigger is written: cancellation at a known step.</summary>
public sealed class CancelOnLog(Regex trigger) : IKubeDindLog
{
    private readonly CapturingLog _inner = new();
    private readonly CancellationTokenSource _source = new();

    public CancellationToken Token => _source.Token;

    public IReadOnlyList<(KubeDindLogLevel Level, string Message)> Lines => _inner.Lines;

    public void Write(KubeDindLogLevel level, string message)
    {
        _inner.Write(level, message);
        if (trigger.IsMatch(message))
        {
            _source.Cancel();
        }
    }
}

public static class FaultSupport
{
    /// <summary>Compose-mode settings whose diagnostics go to a temporary directory of the test's own.</summary>
    public static ClusterSettings ComposeSettings(string what, string artifacts) =>
        ClusterTestSupport.ComposeSettings(what) with { ArtifactsDirectory = artifacts, SweepFirst = false };

    public static string TemporaryDirectory(string what)
    {
        var path = Path.Combine(Path.GetTempPath(), ClusterTestSupport.UniqueName(what));
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Runs a shell command in the cluster container (not through the cluster object, whose checks would get in the way).</summary>
    public static Task<KubeDind.Docker.ExecResult> ShellAsync(KubeDindSession session, string containerId, string script) =>
        KubeDind.Docker.ContainerExec.RunAsync(session.Docker, containerId, ["sh", "-c", script], null, cancellationToken: CancellationToken.None);
}
