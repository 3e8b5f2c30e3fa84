using k8s;
using k8s.Models;
using KubeDind.Tests.Fakes;

namespace KubeDind.Tests.Deploy;

/// <summary>
/// Pods as a kubelet reports them in the states the deploy tests need, stated for <see cref="FakeKubernetesApi"/>: the
/// status, events and logs a real k3s shows for each (RealClusterFailFastTests, RealClusterParityTests), copied, not
/// simulated; <see cref="State"/> puts one, and its Deployment's status, into the fake.
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

    /// <summary>A pod Running and Ready.</summary>
    public static FakePod Ready() =>
        new(new V1PodStatus { Phase = "Running", Conditions = [new V1PodCondition { Type = "Ready", Status = "True" }] });

    /// <summary>
    /// States to <paramref name="fake"/> what the Deployment in <paramref name="manifest"/> (the first Deployment document)
    /// shows once applied to <paramref name="ns"/>: one pod made from its template (labels and spec) with
    /// <paramref name="pod"/>'s status, events and logs, and the status the Deployment controller reports for that pod —
    /// every replica updated, available only when the pod is Ready.
    /// </summary>
    public static void State(FakeKubernetesApi fake, string ns, string manifest, FakePod pod)
    {
        ArgumentNullException.ThrowIfNull(fake);
        ArgumentNullException.ThrowIfNull(pod);
        var document = manifest.Split("\n---", StringSplitOptions.RemoveEmptyEntries).First(d => d.Contains("kind: Deployment", StringComparison.Ordinal));
        var deployment = KubernetesYaml.Deserialize<V1Deployment>(document);
        var name = deployment.Metadata.Name;
        var replicas = deployment.Spec.Replicas ?? 1;
        var ready = pod.Status.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true;
        fake.Statuses[("Deployment", name)] = new V1DeploymentStatus
        {
            ObservedGeneration = 1,
            Replicas = replicas,
            UpdatedReplicas = replicas,
            ReadyReplicas = ready ? replicas : 0,
            AvailableReplicas = ready ? replicas : 0,
        };

        var podName = $"{name}-7d4b9c-x1";
        var spec = deployment.Spec.Template.Spec;
        spec.NodeName = "kdt-node";
        fake.PutPod(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = podName, NamespaceProperty = ns, Labels = deployment.Spec.Template.Metadata?.Labels },
            Spec = spec,
            Status = pod.Status,
        });
        foreach (var ((container, previous), text) in pod.Logs)
        {
            fake.Logs[(podName, container, previous)] = text;
        }

        foreach (var stated in pod.Events)
        {
            stated.InvolvedObject = new V1ObjectReference { Kind = "Pod", NamespaceProperty = ns, Name = podName };
            fake.AddEvent(stated);
        }
    }

    /// <summary>The text of <paramref name="relative"/> under the test manifests.</summary>
    public static string Manifest(string relative) => File.ReadAllText(ManifestFiles.Path(relative));

    public static Corev1Event Event(string type, string reason, string message) =>
        new() { Type = type, Reason = reason, Message = message, InvolvedObject = new V1ObjectReference() };
}
