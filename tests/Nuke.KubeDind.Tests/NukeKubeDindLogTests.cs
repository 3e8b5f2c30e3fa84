using KubeDind.Logging;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace Nuke.KubeDind.Tests;

public sealed class NukeKubeDindLogTests
{
    private sealed class Capture : ILogEventSink
    {
        public List<LogEvent> Events { get; } = [];

        public void Emit(LogEvent logEvent) => Events.Add(logEvent);
    }

    [Fact]
    public void Core_levels_map_to_Serilog_levels_and_the_message_is_kept_verbatim()
    {
        var capture = new Capture();
        var previous = Log.Logger;
        Log.Logger = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(capture).CreateLogger();
        try
        {
            IKubeDindLog log = new NukeKubeDindLog();
            log.Debug("d {not a template}");
            log.Info("i");
            log.Warn("w");
            log.Error("e");
        }
        finally
        {
            Log.Logger = previous;
        }

        Assert.Equal([LogEventLevel.Debug, LogEventLevel.Information, LogEventLevel.Warning, LogEventLevel.Error], capture.Events.Select(e => e.Level));
        Assert.Equal("d {not a template}", ((ScalarValue)capture.Events[0].Properties["Message"]).Value);
    }
}
