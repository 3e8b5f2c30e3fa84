using Docker.DotNet;
using Docker.DotNet.Models;

namespace KubeDind.Docker;

/// <summary>The outcome of a command run inside a container.</summary>
public sealed record ExecResult(long ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The first line of stderr (or stdout), for one-line error messages.</summary>
    public string FirstErrorLine => FirstLine(StandardError, StandardOutput);

    /// <summary>The first line of stdout (or stderr), for commands that report on stdout.</summary>
    public string FirstOutputLine => FirstLine(StandardOutput, StandardError);

    private string FirstLine(string first, string second) =>
        (first + "\n" + second).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? $"exit code {ExitCode}";
}

/// <summary>Runs commands inside a container through the engine's exec API, optionally feeding stdin.</summary>
public static class ContainerExec
{
    public static async Task<ExecResult> RunAsync(
        IDockerClient docker,
        string containerId,
        IReadOnlyList<string> command,
        Stream? standardInput = null,
        IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var created = await docker.Exec.ExecCreateContainerAsync(
            containerId,
            new ContainerExecCreateParameters
            {
                Cmd = command.ToList(),
                AttachStdout = true,
                AttachStderr = true,
                AttachStdin = standardInput is not null,
                Env = environment?.Select(kv => $"{kv.Key}={kv.Value}").ToList(),
            },
            cancellationToken).ConfigureAwait(false);

        using var stream = await docker.Exec.StartAndAttachContainerExecAsync(created.ID, tty: false, cancellationToken).ConfigureAwait(false);
        var output = stream.ReadOutputToEndAsync(cancellationToken);
        if (standardInput is not null)
        {
            await stream.CopyFromAsync(standardInput, cancellationToken).ConfigureAwait(false);
            stream.CloseWrite();
        }

        var (stdout, stderr) = await output.ConfigureAwait(false);
        var inspect = await docker.Exec.InspectContainerExecAsync(created.ID, cancellationToken).ConfigureAwait(false);
        return new ExecResult(inspect.ExitCode, stdout, stderr);
    }
}
