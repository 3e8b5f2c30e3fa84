using KubeDind.Waiting;

namespace KubeDind.Tests.Waiting;

/// <summary>The polling primitive: what a cancelled wait says, typed, so callers need not read its message.</summary>
public sealed class PollTests
{
    [Fact]
    public async Task A_cancelled_poll_names_what_it_waited_for_and_what_it_last_saw()
    {
        using var cancel = new CancellationTokenSource();

        var ex = await Assert.ThrowsAsync<WaitCancelledException>(() => Poll.UntilAsync<bool>(
            "the widget to turn blue",
            _ =>
            {
                cancel.Cancel();
                return Task.FromResult(PollStep<bool>.NotYet("red"));
            },
            TimeSpan.FromSeconds(1),
            null,
            cancel.Token));

        Assert.Equal(("the widget to turn blue", "red"), (ex.WaitingFor, ex.LastSeen));
        Assert.Equal("gave up waiting for the widget to turn blue (last saw: red)", ex.Message);
    }

    [Fact]
    public async Task An_outer_poll_keeps_the_inner_poll_s_reason()
    {
        using var cancel = new CancellationTokenSource();

        var ex = await Assert.ThrowsAsync<WaitCancelledException>(() => Poll.UntilAsync<bool>(
            "the outer condition",
            async token =>
            {
                await Poll.UntilAsync<bool>(
                    "the inner condition",
                    _ =>
                    {
                        cancel.Cancel();
                        return Task.FromResult(PollStep<bool>.NotYet("not yet"));
                    },
                    TimeSpan.FromSeconds(1),
                    null,
                    token);
                return PollStep<bool>.Finished(true);
            },
            TimeSpan.FromSeconds(1),
            null,
            cancel.Token));

        Assert.Equal("the inner condition", ex.WaitingFor);
    }
}
