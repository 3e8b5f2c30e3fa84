namespace KubeDind.Logging;

/// <summary>Writes to standard error with a level prefix; the default when no front end supplies a log.</summary>
public sealed class ConsoleKubeDindLog : IKubeDindLog
{
    private static readonly object Gate = new();

    public ConsoleKubeDindLog(KubeDindLogLevel minimum = KubeDindLogLevel.Information)
    {
        Minimum = minimum;
    }

    public KubeDindLogLevel Minimum { get; }

    public void Write(KubeDindLogLevel level, string message)
    {
        if (level < Minimum)
        {
            return;
        }

        var prefix = level switch
        {
            KubeDindLogLevel.Debug => "kubedind debug: ",
            KubeDindLogLevel.Warning => "kubedind warning: ",
            KubeDindLogLevel.Error => "kubedind error: ",
            _ => "kubedind: ",
        };
        lock (Gate)
        {
            Console.Error.WriteLine(prefix + message);
        }
    }
}
