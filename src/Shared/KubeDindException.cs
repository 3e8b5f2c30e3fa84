namespace KubeDind;

/// <summary>
/// A failure KubeDind can explain in one line: what went wrong, naming the input, and what to do.
/// Front ends print <see cref="Exception.Message"/> as it is; <see cref="Details"/> holds supporting
/// lines (log tails, gate results) printed below it.
/// </summary>
public class KubeDindException : Exception
{
    public KubeDindException(string message, string? details = null, Exception? inner = null)
        : base(message, inner)
    {
        Details = details;
    }

    /// <summary>Supporting lines (a container's last log lines, for example), or null.</summary>
    public string? Details { get; }
}
