using KubeDind.Logging;
using Serilog;

namespace Nuke.KubeDind;

/// <summary>
/// Routes the core's log into Serilog's static <see cref="Log"/>, which is where a Nuke build's own
/// output goes (Nuke configures it before the first target runs), so KubeDind's lines carry the
/// target name and honour <c>--verbosity</c> like any other line of the build.
/// </summary>
public sealed class NukeKubeDindLog : IKubeDindLog
{
    public void Write(KubeDindLogLevel level, string message)
    {
        switch (level)
        {
            case KubeDindLogLevel.Debug:
                Log.Debug("{Message}", message);
                break;
            case KubeDindLogLevel.Information:
                Log.Information("{Message}", message);
                break;
            case KubeDindLogLevel.Warning:
                Log.Warning("{Message}", message);
                break;
            default:
                Log.Error("{Message}", message);
                break;
        }
    }
}
