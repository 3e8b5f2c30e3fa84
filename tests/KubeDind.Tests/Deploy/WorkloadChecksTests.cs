using k8s;
using k8s.Models;
using KubeDind.Deploy;
using KubeDind.Diagnostics;

namespace KubeDind.Tests.Deploy;

/// <summary>Each workload kind's rollout check, and the failure summary, on status shapes as the API returns them.</summary>
public sealed class WorkloadChecksTests
{
    [Theory]
    [InlineData("""{"metadata":{"generation":2},"spec":{"replicas":2},"status":{"observedGeneration":1,"replicas":2,"updatedReplicas":2,"availableReplicas":2}}""", RolloutState.Progressing, "controller has seen generation 1 of 2")]
    [InlineData("""{"metadata":{"generation":2},"spec":{"replicas":2},"status":{"observedGeneration":2,"replicas":3,"updatedReplicas":2,"availableReplicas":2}}""", RolloutState.Progressing, "2/2 updated, 2/2 available, 1 old still running")]
    [InlineData("""{"metadata":{"generation":2},"spec":{"replicas":2},"status":{"observedGeneration":2,"replicas":2,"updatedReplicas":2,"availableReplicas":2}}""", RolloutState.Ready, "2/2 updated, 2/2 available")]
    [InlineData("""{"metadata":{"generation":1},"spec":{},"status":{"observedGeneration":1,"conditions":[{"type":"Progressing","status":"False","reason":"ProgressDeadlineExceeded","message":"ReplicaSet \"web-1\" has timed out progressing."}]}}""", RolloutState.Failed, "progress deadline exceeded: ReplicaSet \"web-1\" has timed out progressing.")]
    public void Deployment(string json, RolloutState state, string observation) => Check("Deployment", json, state, observation);

    [Theory]
    [InlineData("""{"metadata":{"generation":1},"spec":{"replicas":2},"status":{"observedGeneration":1,"readyReplicas":2,"updatedReplicas":2,"currentRevision":"db-1","updateRevision":"db-2"}}""", RolloutState.Progressing, "2/2 ready, 2/2 updated")]
    [InlineData("""{"metadata":{"generation":1},"spec":{"replicas":2},"status":{"observedGeneration":1,"readyReplicas":2,"updatedReplicas":2,"currentRevision":"db-2","updateRevision":"db-2"}}""", RolloutState.Ready, "2/2 ready, 2/2 updated")]
    public void StatefulSet(string json, RolloutState state, string observation) => Check("StatefulSet", json, state, observation);

    [Theory]
    [InlineData("""{"metadata":{"generation":1},"status":{"observedGeneration":1,"desiredNumberScheduled":1,"updatedNumberScheduled":1,"numberAvailable":0}}""", RolloutState.Progressing, "1/1 updated, 0/1 available")]
    [InlineData("""{"metadata":{"generation":1},"status":{"observedGeneration":1,"desiredNumberScheduled":1,"updatedNumberScheduled":1,"numberAvailable":1}}""", RolloutState.Ready, "1/1 updated, 1/1 available")]
    public void DaemonSet(string json, RolloutState state, string observation) => Check("DaemonSet", json, state, observation);

    [Theory]
    [InlineData("""{"status":{"active":1}}""", RolloutState.Progressing, "0 succeeded, 1 running, 0 failed")]
    [InlineData("""{"status":{"succeeded":1,"conditions":[{"type":"Complete","status":"True"}]}}""", RolloutState.Ready, "1 succeeded, 0 running, 0 failed")]
    [InlineData("""{"status":{"failed":7,"conditions":[{"type":"Failed","status":"True","reason":"BackoffLimitExceeded","message":"Job has reached the specified backoff limit"}]}}""", RolloutState.Failed, "job failed (BackoffLimitExceeded): Job has reached the specified backoff limit")]
    public void Job(string json, RolloutState state, string observation) => Check("Job", json, state, observation);

    [Theory]
    [InlineData("""{"status":{"phase":"Pending"}}""", RolloutState.Progressing, "Pending, not ready")]
    [InlineData("""{"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}]}}""", RolloutState.Ready, "Running, ready")]
    [InlineData("""{"status":{"phase":"Succeeded"}}""", RolloutState.Ready, "succeeded")]
    [InlineData("""{"status":{"phase":"Failed","reason":"Evicted","message":"The node was low on resource: memory."}}""", RolloutState.Failed, "pod failed: Evicted The node was low on resource: memory.")]
    public void Pod(string json, RolloutState state, string observation) => Check("Pod", json, state, observation);

    [Fact]
    public void An_unschedulable_pod_is_named_with_the_scheduler_message()
    {
        var pod = KubernetesJson.Deserialize<V1Pod>("""{"metadata":{"name":"web-1"},"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/1 nodes are available: 1 Insufficient memory."}]}}""");

        Assert.Equal("web: pod web-1 cannot be scheduled: 0/1 nodes are available: 1 Insufficient memory.", FailureSummary.Describe("web", [pod], [], (_, _, _) => null));
    }

    [Theory]
    [InlineData("configmap \"web-config\" not found", true)]
    [InlineData("couldn't find key url in ConfigMap default/web-config", true)]
    [InlineData("secret \"db\" not found", true)]
    [InlineData("failed to sync configmap cache: timed out waiting for the condition", false)]
    [InlineData("failed to sync secret cache: timed out waiting for the condition", false)]
    public void A_container_config_error_fails_fast_unless_the_kubelet_only_timed_out_syncing_its_cache(string message, bool fails)
    {
        var status = new V1ContainerStatus { Name = "app", State = new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = "CreateContainerConfigError", Message = message } } };
        var pod = new V1Pod { Metadata = new V1ObjectMeta { Name = "web-1" }, Status = new V1PodStatus { ContainerStatuses = [status] } };

        Assert.Equal(fails, PodStates.HardFailure(pod) is not null);
    }

    [Fact]
    public void A_container_config_error_is_named_with_its_message()
    {
        var pod = KubernetesJson.Deserialize<V1Pod>("""{"metadata":{"name":"web-1"},"status":{"containerStatuses":[{"name":"app","state":{"waiting":{"reason":"CreateContainerConfigError","message":"configmap \"web-config\" not found"}}}]}}""");

        Assert.Equal("web: container app cannot start (CreateContainerConfigError): configmap \"web-config\" not found", FailureSummary.Describe("web", [pod], [], (_, _, _) => null));
    }

    [Theory]
    [InlineData("OOMKilled", "32Mi", null, "web: container app was OOMKilled (memory limit 32Mi) — raise the limit or use less memory")]
    [InlineData("Error", "32Mi", null, "web: container app was killed (exit code 137, SIGKILL), not by Kubernetes: most likely out of memory (memory limit 32Mi) — raise the limit or use less memory")]
    [InlineData("Error", "32Mi", "spec.containers{app}", "web: container app is crash-looping (exit code 137): last log line: allocating")]
    [InlineData("Error", "32Mi", "spec.containers{sidecar}", "web: container app was killed (exit code 137, SIGKILL), not by Kubernetes: most likely out of memory (memory limit 32Mi) — raise the limit or use less memory")]
    [InlineData("Error", null, null, "web: container app is crash-looping (exit code 137): last log line: allocating")]
    public void A_container_killed_at_its_memory_limit_is_named_out_of_memory_even_when_containerd_missed_the_oom_event(string reason, string? limit, string? killedField, string line)
    {
        var resources = limit is null ? string.Empty : $$$""","resources":{"limits":{"memory":"{{{limit}}}"}}""";
        var pod = KubernetesJson.Deserialize<V1Pod>($$$$"""{"metadata":{"name":"web-1"},"spec":{"containers":[{"name":"app","image":"app:1"{{{{resources}}}}},{"name":"sidecar","image":"app:1"}]},"status":{"containerStatuses":[{"name":"app","restartCount":1,"state":{"waiting":{"reason":"CrashLoopBackOff"}},"lastState":{"terminated":{"reason":"{{{{reason}}}}","exitCode":137}}}]}}""");
        var killed = KubernetesJson.Deserialize<Corev1Event>($$"""{"reason":"Killing","involvedObject":{"kind":"Pod","name":"web-1","fieldPath":"{{killedField}}"},"message":"Container failed liveness probe, will be restarted"}""");

        Assert.Equal(line, FailureSummary.Describe("web", [pod], killedField is null ? [] : [killed], (_, _, _) => "allocating"));
    }

    [Fact]
    public void No_pods_at_all_names_the_controllers_warning()
    {
        var warning = KubernetesJson.Deserialize<Corev1Event>("""{"type":"Warning","reason":"FailedCreate","involvedObject":{"kind":"ReplicaSet","name":"web-6f7d"},"message":"pods \"web-6f7d-\" is forbidden: exceeded quota"}""");

        Assert.Equal("web: no pods were created: pods \"web-6f7d-\" is forbidden: exceeded quota", FailureSummary.Describe("web", [], [warning], (_, _, _) => null));
    }

    [Fact]
    public void An_unauthorized_pull_is_named_as_such_with_what_to_do()
    {
        var pod = KubernetesJson.Deserialize<V1Pod>("""{"metadata":{"name":"web-1"},"spec":{"containers":[{"name":"app","image":"registry.example/app:1"}]},"status":{"containerStatuses":[{"name":"app","image":"registry.example/app:1","ready":false,"restartCount":0,"state":{"waiting":{"reason":"ErrImagePull","message":"failed to resolve reference: pulling from host registry.example failed with status code [manifests 1]: 401 Unauthorized"}}}]}}""");

        var cause = FailureSummary.Explain("web", [pod], [], (_, _, _) => null);

        Assert.Equal(FailureKind.Input, cause.Kind);
        Assert.StartsWith("web: image registry.example/app:1 pull refused as unauthorized — push it to the cluster's registry", cause.Line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_known_cause_wins_over_the_schedulers_message()
    {
        var pod = KubernetesJson.Deserialize<V1Pod>("""{"metadata":{"name":"db-0"},"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"Unschedulable","message":"0/1 nodes are available: 1 pod has unbound immediate PersistentVolumeClaims."}]}}""");

        Assert.Equal("db: PersistentVolumeClaim default/data does not exist", FailureSummary.Describe("db", [pod], [], (_, _, _) => null, knownCause: "PersistentVolumeClaim default/data does not exist"));
    }

    [Theory]
    [InlineData("""{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]},{"key":"legacy","operator":"DoesNotExist"}]}""", "app=web,tier in (a,b),!legacy", true)]
    [InlineData("""{"matchLabels":{"app":"db"}}""", "app=db", false)]
    public void Selectors_from_live_objects_become_queries_and_match_pods(string selectorJson, string query, bool matches)
    {
        var selector = KubernetesJson.Deserialize<V1LabelSelector>(selectorJson);
        var pod = new V1Pod { Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = "web", ["tier"] = "b" } } };

        Assert.Equal(query, PodStates.SelectorQuery(selector));
        Assert.Equal(matches, PodStates.Matches(selector, pod));
    }

    private static void Check(string kind, string json, RolloutState state, string observation)
    {
        var status = kind switch
        {
            "Deployment" => new DeploymentCheck().Evaluate(KubernetesJson.Deserialize<V1Deployment>(json)),
            "StatefulSet" => new StatefulSetCheck().Evaluate(KubernetesJson.Deserialize<V1StatefulSet>(json)),
            "DaemonSet" => new DaemonSetCheck().Evaluate(KubernetesJson.Deserialize<V1DaemonSet>(json)),
            "Job" => new JobCheck().Evaluate(KubernetesJson.Deserialize<V1Job>(json)),
            _ => new PodCheck().Evaluate(KubernetesJson.Deserialize<V1Pod>(json)),
        };

        Assert.Equal((state, observation), (status.State, status.Observation));
    }
}
