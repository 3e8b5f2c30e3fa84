namespace KubeDind.Logging;

public enum KubeDindLogLevel
{
    Debug,
    Information,
    Warning,
    Error,
}

/// <summary>
/// Where the core writes what it is doing. Cake and Nuke front ends route this to their own logs.
/// </summary>
public interface IKubeDindLog
{
    void Write(KubeDindLogLevel level, string message);
}

public static class KubeDindLogExtensions
{
    public static void Debug(this IKubeDindLog log, string message) => log.Write(KubeDindLogLevel.Debug, message);

    public static void Info(this IKubeDindLog log, string message) => log.Write(KubeDindLogLevel.Information, message);

    public static void Warn(this IKubeDindLog log, string message) => log.Write(KubeDindLogLevel.Warning, message);

    public static void Error(this IKubeDindLog log, string message) => log.Write(KubeDindLogLevel.Error, message);
}
