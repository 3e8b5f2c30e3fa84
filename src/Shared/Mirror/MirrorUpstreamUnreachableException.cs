namespace KubeDind.Mirror;

/// <summary>
/// The mirror could not start because its upstream does not answer (registry 2.8 contacts it before serving),
/// as on a host with no internet. The mirror is only a cache: front ends may warn and go on without it,
/// while every other StartMirror error (name or port clash, bad input) still stops the build.
/// </summary>
[Obsolete("StartMirror no longer throws this: a registry whose upstream does not answer starts cache-only (MirrorEndpoints.CacheOnly) with one warning.")]
public sealed class MirrorUpstreamUnreachableException : KubeDindException
{
    public MirrorUpstreamUnreachableException(string message, string? details = null, Exception? inner = null)
        : base(message, details, inner)
    {
    }
}
