using System.Collections.Concurrent;
using KubeDind.Logging;
using Xunit;

namespace KubeDind.Testing;

/// <summary>
/// The fixture's log: every line is kept; while a test runs it goes to that test's output, otherwise (fixture start and
/// teardown) it is sent as an xunit diagnostic message (shown with <c>diagnosticMessages</c> on).
/// </summary>
public sealed class FixtureLog : IKubeDindLog
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public void Write(KubeDindLogLevel level, string message)
    {
        if (level < KubeDindLogLevel.Information)
        {
            return;
        }

        var line = $"[{DateTime.UtcNow:HH:mm:ss.f}] {level}: {message}";
        _lines.Enqueue(line);
        var context = TestContext.Current;
        if (context.TestOutputHelper is { } output && context.TestStatus == TestEngineStatus.Running)
        {
            output.WriteLine(line);
        }
        else
        {
            context.SendDiagnosticMessage("KubeDind: {0}", line);
        }
    }
}
