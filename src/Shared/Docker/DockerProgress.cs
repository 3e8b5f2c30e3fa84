using System.Diagnostics;
using System.Globalization;
using Docker.DotNet.Models;
using KubeDind.Logging;

namespace KubeDind.Docker;

/// <summary>
/// Turns the engine's JSON progress stream (pull, push, build, import) into log lines: build steps with the
/// time since the build began; for pushes and pulls, one throttled line over all layers (layers done of
/// seen, bytes moved of known, a rate) instead of one per layer; errors remembered so the caller can fail
/// with them. <see cref="Summary"/> states the whole transfer in one line at the end.
/// </summary>
internal sealed class DockerProgress : IProgress<JSONMessage>
{
    /// <summary>Layer statuses after which the layer moves no more bytes.</summary>
    private static readonly string[] DoneStatuses = ["Pushed", "Layer already exists", "Pull complete", "Already exists", "Download complete", "Mounted from"];

    private readonly IKubeDindLog _log;
    private readonly string _prefix;
    private readonly TimeSpan _interval;
    private readonly Queue<string> _recent = new();
    private readonly List<string> _stepImages = [];
    private readonly Dictionary<string, (long Current, long Total)> _layers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _done = new(StringComparer.Ordinal);
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private TimeSpan? _lastCounter;
    private long _lastBytes;
    private string? _lastStatus;

    public DockerProgress(IKubeDindLog log, string prefix, TimeSpan? interval = null)
    {
        _log = log;
        _prefix = prefix;
        _interval = interval ?? TimeSpan.FromSeconds(5);
    }

    public string? Error { get; private set; }

    public string? ImageId { get; private set; }

    public IReadOnlyCollection<string> RecentLines => _recent;

    /// <summary>The image each build step produced (the classic builder's "---> 0123456789ab" lines), in order.</summary>
    public IReadOnlyList<string> StepImages => _stepImages;

    /// <summary>Bytes moved so far over all layers (the engine's counters).</summary>
    public long Bytes => _layers.Values.Sum(l => l.Current);

    /// <summary>"3 layers (2 already there), 96.4 MiB in 7.1s (13.6 MiB/s)", or null when no layer was reported.</summary>
    public string? Summary
    {
        get
        {
            if (_layers.Count == 0 && _done.Count == 0)
            {
                return null;
            }

            var layers = _layers.Keys.Union(_done).Count();
            var skipped = _done.Count(id => !_layers.ContainsKey(id) || _layers[id].Current == 0);
            var seconds = Math.Max(_watch.Elapsed.TotalSeconds, 0.001);
            return string.Create(CultureInfo.InvariantCulture, $"{layers} layers{(skipped > 0 ? $" ({skipped} already there)" : string.Empty)}, {Bytes / 1048576.0:0.0} MiB in {seconds:0.0}s ({Bytes / 1048576.0 / seconds:0.0} MiB/s)");
        }
    }

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
                if (line.StartsWith("---> ", StringComparison.Ordinal) && line.Length == 17 && line[5..].All(char.IsAsciiHexDigitLower))
                {
                    _stepImages.Add(line[5..]);
                }

                if (line.StartsWith("Step ", StringComparison.Ordinal) || line.StartsWith("Successfully", StringComparison.Ordinal))
                {
                    _log.Info(string.Create(CultureInfo.InvariantCulture, $"{_prefix}: [{_watch.Elapsed.TotalSeconds,5:0.0}s] {line}"));
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

        if (!string.IsNullOrEmpty(value.ID) && value.ID.Length >= 12 && !value.ID.Contains(':', StringComparison.Ordinal))
        {
            TrackLayer(value.ID, value.Status, value.Progress);
            return;
        }

        var status = string.IsNullOrEmpty(value.ID) ? value.Status : $"{value.ID}: {value.Status}";
        if (status != _lastStatus)
        {
            _lastStatus = status;
            Remember(status);
            _log.Debug($"{_prefix}: {status}");
        }
    }

    private void TrackLayer(string layer, string status, JSONProgress? progress)
    {
        if (DoneStatuses.Any(d => status.StartsWith(d, StringComparison.Ordinal)))
        {
            _done.Add(layer);
            if (_layers.TryGetValue(layer, out var finished) && finished.Total > 0)
            {
                _layers[layer] = (finished.Total, finished.Total);
            }
        }
        else if (progress is { Current: > 0 })
        {
            var known = _layers.GetValueOrDefault(layer);
            _layers[layer] = (progress.Current, Math.Max(progress.Total, known.Total));
        }
        else if (!_layers.ContainsKey(layer))
        {
            _layers[layer] = (0, 0);
        }

        if (_lastCounter is { } last && _watch.Elapsed - last < _interval)
        {
            return;
        }

        var since = _lastCounter ?? TimeSpan.Zero;
        var bytes = Bytes;
        var rate = (bytes - _lastBytes) / Math.Max((_watch.Elapsed - since).TotalSeconds, 0.001);
        _lastCounter = _watch.Elapsed;
        _lastBytes = bytes;
        var total = _layers.Values.Sum(l => l.Total);
        var layers = _layers.Keys.Union(_done).Count();
        _log.Info(string.Create(CultureInfo.InvariantCulture, $"{_prefix}: {_done.Count}/{layers} layers done, {bytes / 1048576.0:0.0}{(total > 0 ? $"/{total / 1048576.0:0.0}" : string.Empty)} MiB, {rate / 1048576.0:0.0} MiB/s"));
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
