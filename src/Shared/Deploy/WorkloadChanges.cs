using System.Diagnostics;
using k8s;

namespace KubeDind.Deploy;

/// <summary>
/// Wakes the rollout and Job waits as soon as the API reports a change to what they look at (the workloads' kinds and
/// their pods, in the namespaces involved), instead of at their next poll: polling alone left each wait up to a poll
/// interval behind the cluster, on every Deploy and Job of a run. The poll interval stays the longest pause, so a watch
/// the API refuses or drops only costs that latency, never a result.
/// </summary>
internal sealed class WorkloadChanges : IAsyncDisposable
{
    /// <summary>
    /// After a change, how long to let the chain it starts settle before looking: a pod turning Ready is followed within
    /// milliseconds by its ReplicaSet's and Deployment's status, and one look should see them all.
    /// </summary>
    internal static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// The shortest pause all the same: other pods changing in the same namespace (a busy shared cluster) wake the wait
    /// too, and each look costs a few API requests.
    /// </summary>
    internal static readonly TimeSpan MinimumPause = TimeSpan.FromMilliseconds(200);

    /// <summary>A watch the API ended (its timeout) is opened again after this pause; one that failed is not.</summary>
    private static readonly TimeSpan Reopen = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _stop;
    private readonly List<Task> _watches = [];
    private TaskCompletionSource _changed = NewSignal();

    private WorkloadChanges(CancellationToken cancellationToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>Watches the pods and the objects of each kind in <paramref name="watched"/> (kinds with a <see cref="WorkloadChecks"/> entry).</summary>
    public static WorkloadChanges Start(IKubernetes client, IEnumerable<(string Kind, string Namespace)> watched, CancellationToken cancellationToken)
    {
        var changes = new WorkloadChanges(cancellationToken);
        var pods = WorkloadChecks.For("Pod")!;
        var checks = watched
            .SelectMany(w => new[] { (Check: WorkloadChecks.For(w.Kind), w.Namespace), (Check: (IWorkloadCheck?)pods, w.Namespace) })
            .Where(w => w.Check is not null)
            .Distinct()
            .ToList();
        foreach (var (check, @namespace) in checks)
        {
            changes._watches.Add(Task.Run(() => changes.WatchAsync(client, check!, @namespace), CancellationToken.None));
        }

        return changes;
    }

    /// <summary>
    /// Returns once something changed since the last return (after <see cref="Settle"/>, and no sooner than
    /// <see cref="MinimumPause"/>), or after <paramref name="interval"/>.
    /// </summary>
    public async Task PauseAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        var started = Stopwatch.StartNew();
        using var pause = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var changed = Volatile.Read(ref _changed).Task;
        var elapsed = Task.Delay(interval, pause.Token);
        if (await Task.WhenAny(changed, elapsed).ConfigureAwait(false) == changed)
        {
            await pause.CancelAsync().ConfigureAwait(false);
            Interlocked.Exchange(ref _changed, NewSignal());
            var left = MinimumPause - started.Elapsed;
            await Task.Delay(left > Settle ? left : Settle, cancellationToken).ConfigureAwait(false);
            return;
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_watches).ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task WatchAsync(IKubernetes client, IWorkloadCheck check, string @namespace)
    {
        var failed = false;
        while (!failed && !_stop.IsCancellationRequested)
        {
            try
            {
                await foreach (var _ in check.WatchAsync(client, @namespace, _ => failed = true, _stop.Token).ConfigureAwait(false))
                {
                    Volatile.Read(ref _changed).TrySetResult();
                }

                await Task.Delay(Reopen, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception)
            {
                // A watch that fails (refused, dropped) leaves the waits polling at their interval, as without it.
                return;
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
