namespace KubeDind.Logging;

public sealed class NullKubeDindLog : IKubeDindLog
{
    public static readonly NullKubeDindLog Instance = new();

    public void Write(KubeDindLogLevel level, string message)
    {
    }
}
