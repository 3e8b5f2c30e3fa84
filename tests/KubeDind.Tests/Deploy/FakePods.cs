using k8s.Models;
using KubeDind.Tests.Fakes;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// Pods as a kubelet reports them in the states the deploy tests need, stated for <see cref="FakeKubernetesApi"/>: the
/// status, events and logs a real k3s shows for each (RealClusterFailFastTests, RealClusterParityTests), copied, not simulated.
/// </summary>
internal static class FakePods
{
    /// <summary>Container <paramref name="container"/> waiting on <paramref name="reason"/>, the pod Running or Pending but not Ready.</summary>
    public static FakePod Waiting(string container, string reason, string? message = null, string phase = "Pending", params Corev1Event[] events) =>
        new(new V1PodStatus
        {
            Phase = phase,
            Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "True" }, new V1PodCondition { Type = "Ready", Status = "False", Reason = "ContainersNotReady" }],
            ContainerStatuses = [new V1ContainerStatus { Name = container, Image = string.Empty, ImageID = string.Empty, Ready = false, RestartCount = 0, State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = reason, Message = message } } }],
        })
        { Events = events };

    /// <summary>Restarted after exiting with <paramref name="exitCode"/>; the previous instance wrote <paramref name="log"/>.</summary>
    public static FakePod CrashLoop(string container, int exitCode, string log)
    {
        var pod = Waiting(container, "CrashLoopBackOff", $"back-off 40s restarting failed container={container}", "Running", Event("Warning", "BackOff", $"Back-off restarting failed container {container}"));
        var status = pod.Status.ContainerStatuses[0];
        status.RestartCount = 3;
        status.LastState = new V1ContainerState { Terminated = new V1ContainerStateTerminated { ExitCode = exitCode, Reason = "Error" } };
        return pod with { Logs = new Dictionary<(string, bool), string> { [(container, true)] = log, [(container, false)] = string.Empty } };
    }

    /// <summary>ImagePullBackOff after the kubelet's pull of <paramref name="image"/> failed with <paramref name="error"/> (containerd's words).</summary>
    public static FakePod PullFailed(string container, string image, string error) =>
        Waiting(
            container,
            "ImagePullBackOff",
            $"Back-off pulling image \"{image}\"",
            "Pending",
            Event("Normal", "Pulling", $"Pulling image \"{image}\""),
            Event("Warning", "Failed", $"Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": {error}"),
            Event("Warning", "Failed", "Error: ErrImagePull"));

    /// <summary>Pending in ContainerCreating because volume <paramref name="volume"/> cannot be mounted.</summary>
    public static FakePod MountFailing(string container, string volume, string error) =>
        Waiting(container, "ContainerCreating", null, "Pending", Event("Warning", "FailedMount", $"MountVolume.SetUp failed for volume \"{volume}\" : {error}"));

    /// <summary>Pending and unscheduled, as for a claim nothing binds.</summary>
    public static FakePod Unschedulable(string message) =>
        new(new V1PodStatus { Phase = "Pending", Conditions = [new V1PodCondition { Type = "PodScheduled", Status = "False", Reason = "Unschedulable", Message = message }] })
        {
            Events = [Event("Warning", "FailedScheduling", message)],
        };

    public static Corev1Event Event(string type, string reason, string message) =>
        new() { Type = type, Reason = reason, Message = message, InvolvedObject = new V1ObjectReference() };
}
