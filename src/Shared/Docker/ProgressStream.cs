using System.Diagnostics;
using System.Globalization;
using KubeDind.Logging;

namespace KubeDind.Docker;

/// <summary>
/// A read-only stream that counts the bytes read through it and logs, at most once per interval, how many of the
/// expected bytes went by and at what rate ("load app:1: 45.0/120.0 MiB (38%), 12.3 MiB/s"); for side-loads,
/// where the engine's stream carries no progress of its own.
/// </summary>
internal sealed class ProgressStream : Stream
{
    private readonly Stream _inner;
    private readonly long _expected;
    private readonly IKubeDindLog _log;
    private readonly string _prefix;
    private readonly TimeSpan _interval;
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private TimeSpan _lastReport;
    private long _lastBytes;
    private TimeSpan? _ended;

    public ProgressStream(Stream inner, long expected, IKubeDindLog log, string prefix, TimeSpan? interval = null)
    {
        _inner = inner;
        _expected = expected;
        _log = log;
        _prefix = prefix;
        _interval = interval ?? TimeSpan.FromSeconds(5);
    }

    public long BytesRead { get; private set; }

    /// <summary>"120.3 MiB in 7.1s (16.9 MiB/s)": up to the end of the stream once it was read to the end.</summary>
    public string Summary
    {
        get
        {
            var seconds = (_ended ?? _watch.Elapsed).TotalSeconds;
            return string.Create(CultureInfo.InvariantCulture, $"{BytesRead / 1048576.0:0.0} MiB in {seconds:0.0}s ({BytesRead / 1048576.0 / Math.Max(seconds, 0.001):0.0} MiB/s)");
        }
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Count(_inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Count(int read)
    {
        BytesRead += read;
        var now = _watch.Elapsed;
        if (read == 0)
        {
            _ended ??= now;
        }

        if (read > 0 && now - _lastReport >= _interval)
        {
            var rate = (BytesRead - _lastBytes) / Math.Max((now - _lastReport).TotalSeconds, 0.001);
            _lastReport = now;
            _lastBytes = BytesRead;
            var of = _expected > 0 ? string.Create(CultureInfo.InvariantCulture, $"/{_expected / 1048576.0:0.0} MiB ({Math.Min(100, BytesRead * 100 / _expected)}%)") : " MiB";
            _log.Info(string.Create(CultureInfo.InvariantCulture, $"{_prefix}: {BytesRead / 1048576.0:0.0}{of}, {rate / 1048576.0:0.0} MiB/s"));
        }

        return read;
    }
}
