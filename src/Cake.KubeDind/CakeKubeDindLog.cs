using Cake.Core.Diagnostics;
using KubeDind.Logging;

namespace Cake.KubeDind;

/// <summary>
/// Routes the core's log to Cake's: progress of long work at Normal verbosity, warnings at Minimal,
/// errors always, and the core's noise only with <c>--verbosity=diagnostic</c>.
/// </summary>
public sealed class CakeKubeDindLog : IKubeDindLog
{
    private readonly ICakeLog _log;

    public CakeKubeDindLog(ICakeLog log)
    {
        ArgumentNullException.ThrowIfNull(log);
        _log = log;
    }

    public void Write(KubeDindLogLevel level, string message)
    {
        var (verbosity, cakeLevel) = Map(level);
        // The message is data, not a format string: braces in it (JSON, Go templates) must stay as they are.
        _log.Write(verbosity, cakeLevel, "{0}", message);
    }

    internal static (Verbosity Verbosity, LogLevel Level) Map(KubeDindLogLevel level) => level switch
    {
        KubeDindLogLevel.Debug => (Verbosity.Diagnostic, LogLevel.Debug),
        KubeDindLogLevel.Information => (Verbosity.Normal, LogLevel.Information),
        KubeDindLogLevel.Warning => (Verbosity.Minimal, LogLevel.Warning),
        _ => (Verbosity.Quiet, LogLevel.Error),
    };
}
