using System.Diagnostics;
using Docker.DotNet.Models;
using KubeDind.Docker;
using KubeDind.Tests.Cluster;

namespace KubeDind.Tests.Remote;

/// <summary>The owner identity Sweep judges by: real processes and a real container's PID namespace, no fakes.</summary>
public sealed class OwnerIdentityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Dictionary<string, string> LabelsOf(OwnerIdentity owner) => owner.Labels().ToDictionary(kv => kv.Key, kv => kv.Value);

    [Fact]
    public void This_process_records_more_than_a_pid()
    {
        var labels = LabelsOf(OwnerIdentity.Current);
        Assert.Equal(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), labels[KubeDindLabels.OwnerPid]);
        Assert.StartsWith("ticks:", labels[KubeDindLabels.OwnerStart], StringComparison.Ordinal);
        Assert.Matches("^[0-9a-f-]{36}$", labels[KubeDindLabels.OwnerBootId]);
        Assert.Matches(@"^pid:\[[0-9]+\]$", labels[KubeDindLabels.OwnerPidNamespace]);
        Assert.Null(OwnerIdentity.WhyGone(labels));
    }

    [Fact]
    public async Task A_live_owner_is_kept_a_dead_one_is_gone_and_a_reused_pid_is_not_mistaken_for_it()
    {
        using var child = Process.Start(new ProcessStartInfo("sleep", "60") { UseShellExecute = false })!;
        var owner = OwnerIdentity.Current with { Pid = child.Id, Start = OwnerIdentity.StartOf(child.Id)! };
        var labels = LabelsOf(owner);
        Assert.Null(OwnerIdentity.WhyGone(labels));

        // The same PID with another start time: a later process given the number, not the owner.
        labels[KubeDindLabels.OwnerStart] = "ticks:1";
        Assert.Contains("started later", OwnerIdentity.WhyGone(labels), StringComparison.Ordinal);

        child.Kill();
        await child.WaitForExitAsync(Ct);
        Assert.Contains($"process {child.Id}", OwnerIdentity.WhyGone(LabelsOf(owner)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_owner_in_another_pid_namespace_on_the_same_engine_is_never_judged_from_here()
    {
        // A build container's process: PID 1 in its own namespace. Read its identity from inside, as its KubeDind would.
        using var session = await KubeDindSession.ConnectAsync(new CapturingLog(), cancellationToken: Ct);
        var image = await new BaseImage(session.Docker, session.Log).EnsureAsync(Ct);
        var name = ClusterTestSupport.UniqueName("owner");
        var created = await session.Docker.Containers.CreateContainerAsync(
            new CreateContainerParameters
            {
                Name = name,
                Image = image,
                Labels = KubeDindLabels.ForResource("test-owner", session.RunId),
                Entrypoint = ["/bin/sh", "-c", "echo \"$(cat /proc/sys/kernel/random/boot_id) $(readlink /proc/self/ns/pid) $(cut -d' ' -f22 /proc/1/stat)\"; sleep 60"],
            },
            Ct);
        try
        {
            await session.Docker.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), Ct);
            string output;
            var deadline = DateTime.UtcNow.AddSeconds(20);
            do
            {
                await Task.Delay(200, Ct);
                output = (await ContainerLogs.TailAsync(session.Docker, created.ID, 1, Ct)).Trim();
            }
            while (!output.Contains("pid:[", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

            var parts = output.Split(' ');
            var theirs = new OwnerIdentity(OwnerIdentity.Current.Host, 1, "ticks:" + parts[2], parts[0], parts[1]);

            // Same kernel, same host name even (build containers often share one), but another PID namespace: PID 1 here is
            // another process, so the judge must leave it alone.
            Assert.Equal(OwnerIdentity.Current.BootId, theirs.BootId);
            Assert.NotEqual(OwnerIdentity.Current.PidNamespace, theirs.PidNamespace);
            Assert.Null(OwnerIdentity.WhyGone(LabelsOf(theirs)));
            Assert.Null(OwnerIdentity.WhyGone(LabelsOf(theirs with { Pid = 999_999_999 })));

            // Recorded under another kernel (another VM sharing the engine): left alone too.
            Assert.Null(OwnerIdentity.WhyGone(LabelsOf(theirs with { BootId = Guid.NewGuid().ToString() })));
        }
        finally
        {
            await session.Docker.Containers.RemoveContainerAsync(created.ID, new ContainerRemoveParameters { Force = true }, CancellationToken.None);
        }
    }
}
