using System.ComponentModel;
using System.Diagnostics;
using KubeDind.Logging;

namespace KubeDind.IO;

/// <summary>
/// Runs a local program to its end for the few jobs no library or engine API does (debootstrap): its output lines go
/// to the debug log, a time limit and the caller's cancellation kill its whole process tree, and a failure names the
/// command and ends with the last lines it wrote.
/// </summary>
internal static class ProcessRunner
{
    private const int TailLines = 15;
    private static readonly TimeSpan KillWait = TimeSpan.FromSeconds(10);

    /// <param name="hint">What to check when the program fails, appended to the error (e.g. "is the Debian mirror reachable?").</param>
    public static async Task RunAsync(IKubeDindLog log, string file, IReadOnlyList<string> arguments, TimeSpan timeout, string hint, CancellationToken cancellationToken)
    {
        var command = string.Join(' ', [Path.GetFileName(file), .. arguments]);
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = new Process { StartInfo = start };
        var tail = new Queue<string>();
        void Keep(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (tail)
            {
                tail.Enqueue(line);
                if (tail.Count > TailLines)
                {
                    tail.Dequeue();
                }
            }

            log.Debug($"{Path.GetFileName(file)}: {line}");
        }

        string Tail()
        {
            lock (tail)
            {
                return string.Join('\n', tail);
            }
        }

        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        try
        {
            process.Start();
        }
        catch (Win32Exception ex)
        {
            throw new KubeDindException($"'{command}' cannot be started ({ex.Message}); check that {file} is installed and executable.", inner: ex);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(KillWait);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw new KubeDindException($"'{command}' did not finish within {timeout.TotalMinutes:0.#} min and was stopped; {hint}", Tail());
        }

        if (process.ExitCode != 0)
        {
            throw new KubeDindException($"'{command}' exited with code {process.ExitCode}; {hint} Its last lines are below.", Tail());
        }
    }
}
