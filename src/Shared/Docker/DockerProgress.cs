using Docker.DotNet.Models;
using KubeDind.Logging;

namespace KubeDind.Docker;

/// <summary>
/// Turns the engine's JSON progress stream (pull, push, build, import) into log lines: build steps and
/// status changes at Information, byte counters at most every few seconds, and errors remembered so
/// the caller can fail with them.
/// </summary>
internal sealed class DockerProgress : IProgress<JSONMessage>
{
    private static readonly TimeSpan CounterInterval = TimeSpan.FromSeconds(5);
    private readonly IKubeDindLog _log;
    private readonly string _prefix;
    private readonly Queue<string> _recent = new();
    private DateTime _lastCounter = DateTime.MinValue;
    private string? _lastStatus;

    public DockerProgress(IKubeDindLog log, string prefix)
    {
        _log = log;
        _prefix = prefix;
    }

    public string? Error { get; private set; }

    public string? ImageId { get; private set; }

    public IReadOnlyCollection<string> RecentLines => _recent;

    public void Report(JSONMessage value)
    {
        if (value.Error is not null || !string.IsNullOrEmpty(value.ErrorMessage))
        {
            Error = value.Error?.Message ?? value.ErrorMessage;
            Remember(Error!);
            return;
        }

        if (value.Aux?.ExtensionData is { } aux && aux.TryGetValue("ID", out var id))
        {
            ImageId = id?.ToString();
        }

        if (!string.IsNullOrWhiteSpace(value.Stream))
        {
            foreach (var line in value.Stream.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                Remember(line);
                if (line.StartsWith("Step ", StringComparison.Ordinal) || line.StartsWith("Successfully", StringComparison.Ordinal))
                {
                    _log.Info($"{_prefix}: {line}");
                }
                else
                {
                    _log.Debug($"{_prefix}: {line}");
                }
            }

            return;
        }

        if (string.IsNullOrWhiteSpace(value.Status))
        {
            return;
        }

        var status = string.IsNullOrEmpty(value.ID) ? value.Status : $"{value.ID}: {value.Status}";
        if (value.Progress is { Total: > 0 } progress)
        {
            if (DateTime.UtcNow - _lastCounter >= CounterInterval)
            {
                _lastCounter = DateTime.UtcNow;
                _log.Info($"{_prefix}: {status} {progress.Current / 1048576.0:0.0}/{progress.Total / 1048576.0:0.0} MiB");
            }

            return;
        }

        if (status != _lastStatus)
        {
            _lastStatus = status;
            Remember(status);
            _log.Debug($"{_prefix}: {status}");
        }
    }

    private void Remember(string line)
    {
        _recent.Enqueue(line);
        while (_recent.Count > 20)
        {
            _recent.Dequeue();
        }
    }
}
