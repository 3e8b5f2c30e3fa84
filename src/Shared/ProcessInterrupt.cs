using System.Runtime.InteropServices;

namespace KubeDind;

/// <summary>
/// Ctrl+C (SIGINT) and SIGTERM as a cancellation token, for front ends whose host gives their steps none (Cake).
/// The first signal cancels <see cref="Token"/> and keeps the process alive, so the running step removes what it
/// created and the build's teardown still runs; a second signal ends the process at once, as it would without us.
/// </summary>
public static class ProcessInterrupt
{
    private static readonly Lock Gate = new();
    private static readonly CancellationTokenSource Source = new();
    private static List<PosixSignalRegistration>? _registrations;

    /// <summary>Cancelled by the first Ctrl+C or SIGTERM after <see cref="Listen"/>.</summary>
    public static CancellationToken Token => Source.Token;

    /// <summary>The signal that cancelled <see cref="Token"/>, for the error message; null before one arrived.</summary>
    public static string? Received { get; private set; }

    /// <summary>Starts listening (once per process); returns <see cref="Token"/>.</summary>
    public static CancellationToken Listen()
    {
        lock (Gate)
        {
            _registrations ??= [Register(PosixSignal.SIGINT, "Ctrl+C"), Register(PosixSignal.SIGTERM, "SIGTERM")];
        }

        return Token;
    }

    private static PosixSignalRegistration Register(PosixSignal signal, string name) =>
        PosixSignalRegistration.Create(signal, context =>
        {
            if (Source.IsCancellationRequested)
            {
                return; // the second signal: let the runtime end the process
            }

            Received = name;
            context.Cancel = true;
            Source.Cancel();
        });
}
