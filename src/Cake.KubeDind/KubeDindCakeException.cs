using Cake.Core;
using KubeDind;
using KubeDind.Deploy;
using KubeDind.Diagnostics;

namespace Cake.KubeDind;

/// <summary>
/// KubeDind failures reach a script as <see cref="CakeException"/> whose message is the core's one line and
/// whose inner exception is the core's <see cref="KubeDindException"/>; these read what it carries.
/// </summary>
public static class KubeDindExceptionExtensions
{
    /// <summary>The core's exception behind a Cake error, or null when the error did not come from KubeDind.</summary>
    public static KubeDindException? GetKubeDindException(this Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is KubeDindException kubeDind)
            {
                return kubeDind;
            }
        }

        return null;
    }

    /// <summary>The diagnostics bundle a failed deploy wrote, or null.</summary>
    public static DiagnosticsBundle? GetKubeDindDiagnostics(this Exception exception) =>
        (exception.GetKubeDindException() as DeployFailedException)?.Diagnostics;

    /// <summary>The folder of the diagnostics bundle a failed deploy wrote, or null.</summary>
    public static string? GetKubeDindDiagnosticsDirectory(this Exception exception) => exception.GetKubeDindDiagnostics()?.Directory;

    internal static CakeException ToCakeException(this KubeDindException exception) => new(exception.Message, exception);
}
