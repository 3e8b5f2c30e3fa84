using System.Diagnostics;
using System.Text;
using KubeDind.Cluster;
using KubeDind.Docker;

namespace KubeDind.Tests.Cluster;

/// <summary>
/// What real apps need from the cluster, on k3s's containerd: Services found by name (and headless ones by their pods'
/// addresses), claims bound to volumes that keep their data, images side-loaded or pushed, docker compose beside
/// Kubernetes. Pod images are built here from the offline base image, with busybox from the cluster image.
/// </summary>
public sealed partial class KubernetesClusterTests
{
    private static readonly SemaphoreSlim ToolsLock = new(1, 1);
    private static string? _tools;

    /// <summary>Base image + busybox (httpd), side-loaded into the cluster once (LoadImage; pods use imagePullPolicy Never).</summary>
    private async Task<string> ToolsImageAsync()
    {
        _ = Cluster; // skips the test without k3s
        await ToolsLock.WaitAsync(Ct);
        try
        {
            if (_tools is not null)
            {
                return _tools;
            }

            var session = fixture.Session!;
            var baseImage = await new BaseImage(session.Docker, session.Log).EnsureAsync(Ct);
            var tag = $"kdt-cluster-tools:{Guid.NewGuid().ToString("N")[..8]}";
            var context = new BuildContext().AddText("Dockerfile", $"FROM {Cluster.Image} AS cluster\nFROM {baseImage}\nCOPY --from=cluster /bin/busybox /usr/local/bin/busybox\n");
            await new ImageStore(session.Docker, session.Log).BuildAsync(context, tag, new Dictionary<string, string>(), new Dictionary<string, string>(), Ct);
            try
            {
                var reference = await Cluster.LoadImageAsync(tag, Ct);
                Assert.Equal(tag, reference);

                // A second load of the same image is skipped (same id already in containerd).
                await Cluster.LoadImageAsync(tag, Ct);
                Assert.Contains(fixture.Log.Lines, l => l.Message.Contains($"already has {tag}", StringComparison.Ordinal));
            }
            finally
            {
                await ClusterTestSupport.RemoveImageAsync(session, tag);
            }

            return _tools = tag;
        }
        finally
        {
            ToolsLock.Release();
        }
    }

    private async Task<string> KubectlAsync(string manifestOrNull, params string[] args)
    {
        using var input = manifestOrNull.Length == 0 ? null : new MemoryStream(Encoding.UTF8.GetBytes(manifestOrNull));
        var result = await Cluster.ExecAsync(["kubectl", .. args], input, Ct);
        Assert.True(result.Succeeded, $"kubectl {string.Join(' ', args)}: {result.StandardError}{result.StandardOutput}");
        return result.StandardOutput;
    }

    private Task<string> ApplyAsync(string manifest) => KubectlAsync(manifest, "apply", "-f", "-");

    /// <summary>Waits for a pod that runs to completion and returns its log; on failure, the log and its events.</summary>
    private async Task<string> RunToCompletionAsync(string ns, string pod)
    {
        var wait = await Cluster.ExecAsync(["sh", "-c", $"for i in $(seq 180); do p=$(kubectl get pod -n {ns} {pod} -o jsonpath='{{.status.phase}}'); [ \"$p\" = Succeeded ] && exit 0; [ \"$p\" = Failed ] && exit 1; sleep 1; done; exit 2"], null, Ct);
        var logs = await Cluster.ExecAsync(["kubectl", "logs", "-n", ns, pod], null, Ct);
        if (!wait.Succeeded)
        {
            var describe = await Cluster.ExecAsync(["kubectl", "describe", "pod", "-n", ns, pod], null, Ct);
            Assert.Fail($"pod {ns}/{pod} did not succeed (exit {wait.ExitCode}):\n{logs.StandardOutput}{logs.StandardError}\n{describe.StandardOutput}");
        }

        return logs.StandardOutput;
    }

    private static string Namespace() => "kdt-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public void Components_say_which_dns_and_storage_run()
    {
        var cluster = Cluster;
        output.WriteLine($"components: {string.Join(", ", cluster.Components)}");
        Assert.True(cluster.Components.Single(c => c.Role == "dns").IsRunning);
        Assert.True(cluster.Components.Single(c => c.Role == "storage").IsRunning);
        Assert.Contains(cluster.Timings.Gates, g => g.Gate == "cluster DNS answers");
        Assert.Contains(cluster.Timings.Gates, g => g.Gate == "default StorageClass present");
        foreach (var fallback in cluster.Components.Where(c => c.IsFallback))
        {
            Assert.Single(fixture.Log.Warnings, w => w.Contains($"cluster {cluster.Name}: {fallback.Role} is KubeDind's fallback", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Pods_reach_Services_by_short_name_and_FQDN_and_headless_Services_resolve_to_their_pods()
    {
        var tools = await ToolsImageAsync();
        var ns = Namespace();
        await KubectlAsync(string.Empty, "create", "namespace", ns);
        await ApplyAsync($$"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: web, namespace: {{ns}} }
            spec:
              replicas: 2
              selector: { matchLabels: { app: web } }
              template:
                metadata: { labels: { app: web } }
                spec:
                  containers:
                    - name: httpd
                      image: {{tools}}
                      imagePullPolicy: Never
                      command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec busybox httpd -f -p 8080 -h /www"]
                      ports: [{ containerPort: 8080 }]
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: web, namespace: {{ns}} }
            spec: { selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }
            ---
            apiVersion: v1
            kind: Service
            metadata: { name: web-pods, namespace: {{ns}} }
            spec: { clusterIP: None, selector: { app: web }, ports: [{ port: 8080 }] }
            """);
        await KubectlAsync(string.Empty, "rollout", "status", "-n", ns, "deployment/web", "--timeout=180s");
        var podIps = (await KubectlAsync(string.Empty, "get", "pods", "-n", ns, "-l", "app=web", "-o", "jsonpath={.items[*].status.podIP}"))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Order().ToList();
        Assert.Equal(2, podIps.Count);

        await ApplyAsync($$"""
            apiVersion: v1
            kind: Pod
            metadata: { name: client, namespace: {{ns}} }
            spec:
              restartPolicy: Never
              containers:
                - name: client
                  image: {{tools}}
                  imagePullPolicy: Never
                  command:
                    - bash
                    - -c
                    - |
                      set -e
                      # bash's /dev/tcp resolves through glibc, as most apps do (Debian's busybox wget does not).
                      get() { exec 3<>"/dev/tcp/$1/80"; printf 'GET / HTTP/1.0\r\n\r\n' >&3; tail -n1 <&3; exec 3>&-; }
                      echo "short: $(get web)"
                      echo "fqdn: $(get web.{{ns}}.svc.cluster.local)"
                      echo "headless: $(getent ahostsv4 web-pods | awk '{print $1}' | sort -u | tr '\n' ' ')"
                      if getent hosts nothing-here.{{ns}}.svc.cluster.local; then echo "unknown name resolved"; exit 1; fi
                      # Not cluster names: forwarded to the cluster container's own resolver (the engine's DNS knows the container),
                      # a name without a dot too, as CoreDNS forwards it.
                      echo "outside: $(getent ahostsv4 {{Cluster.Name}} | awk '{print $1}' | sort -u | tr '\n' ' ')"
                      echo "outside dotted: $(getent ahostsv4 {{Cluster.Name}}.{{Cluster.Network}} | awk '{print $1}' | sort -u | tr '\n' ' ')"
            """);
        var log = await RunToCompletionAsync(ns, "client");
        output.WriteLine(log);
        Assert.Contains("short: hello-from-web", log, StringComparison.Ordinal);
        Assert.Contains("fqdn: hello-from-web", log, StringComparison.Ordinal);
        var headless = log.Split('\n').Single(l => l.StartsWith("headless: ", StringComparison.Ordinal))["headless: ".Length..]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries).Order().ToList();
        Assert.Equal(podIps, headless);
        var container = await fixture.Session!.Docker.Containers.InspectContainerAsync(Cluster.ContainerId, Ct);
        var address = container.NetworkSettings.Networks[Cluster.Network].IPAddress;
        Assert.Contains($"outside: {address} ", log, StringComparison.Ordinal);
        Assert.Contains($"outside dotted: {address} ", log, StringComparison.Ordinal);

        // A new Service becomes resolvable (measured, not asserted: where the fallback serves DNS, it follows a watch of Services).
        await ApplyAsync($"apiVersion: v1\nkind: Service\nmetadata: {{ name: late, namespace: {ns} }}\nspec: {{ selector: {{ app: web }}, ports: [{{ port: 80, targetPort: 8080 }}] }}\n");
        var watch = Stopwatch.StartNew();
        ExecResult resolved;
        do
        {
            resolved = await Cluster.ExecAsync(["kubedind-resolve", $"late.{ns}.svc.cluster.local"], null, Ct);
        }
        while (!resolved.Succeeded && watch.Elapsed < TimeSpan.FromSeconds(30));
        Assert.True(resolved.Succeeded, resolved.FirstErrorLine);
        output.WriteLine($"a new Service resolved {watch.Elapsed.TotalSeconds:0.0}s after it was applied ({string.Join(", ", Cluster.Components)})");
        await KubectlAsync(string.Empty, "delete", "namespace", ns, "--wait=false");
    }

    [Fact]
    public async Task The_kube_system_gate_waits_for_the_pods_the_running_components_name()
    {
        // With only KubeDind's fallbacks no component has pods; a component with pods (coredns with k3s's air-gap images)
        // is stood in for by one more entry in the image's status document, restored afterwards. The core's gate decides.
        var tools = await ToolsImageAsync();
        var status = ImageStatus.Path;
        var pod = "kdt-expected-" + Guid.NewGuid().ToString("N")[..6];
        var added = await Cluster.ExecAsync(["sh", "-c", $"cp {status} {status}.kdt && jq -c '.components += [{{role: \"kdt\", implementation: \"kdt\", fallback: false, turnedOffByUser: false, detail: \"test\", pods: [\"kdt-expected\"]}}]' {status}.kdt > {status}.new && mv {status}.new {status}"], null, Ct);
        Assert.True(added.Succeeded, added.FirstErrorLine);
        try
        {
            var waiting = await SystemPodsGateAsync();
            output.WriteLine(waiting.Observation ?? "passed");
            Assert.False(waiting.Passed);
            Assert.StartsWith("waiting for kdt-expected", waiting.Observation, StringComparison.Ordinal);

            await ApplyAsync($$"""
                apiVersion: v1
                kind: Pod
                metadata: { name: {{pod}}, namespace: kube-system }
                spec:
                  terminationGracePeriodSeconds: 1
                  containers: [{ name: c, image: {{tools}}, imagePullPolicy: Never, command: [sleep, "3600"] }]
                """);
            await KubectlAsync(string.Empty, "wait", "--for=condition=Ready", "-n", "kube-system", $"pod/{pod}", "--timeout=120s");

            var ready = await SystemPodsGateAsync();
            Assert.True(ready.Passed, ready.Observation);
        }
        finally
        {
            await Cluster.ExecAsync(["sh", "-c", $"mv {status}.kdt {status}; kubectl delete pod -n kube-system {pod} --ignore-not-found --wait=false"], null, CancellationToken.None);
        }
    }

    /// <summary>The core's kube-system gate, checked once against the shared cluster with a fresh probe (no cached inner state).</summary>
    private async Task<KubeDind.Waiting.GateResult> SystemPodsGateAsync()
    {
        using var fatal = new CancellationTokenSource();
        var probe = new ClusterProbe(Cluster.Session.Docker, Cluster.ContainerId, Cluster.RegistryHostEndpoint, Cluster.ApiEndpoint!, _ => Task.FromResult<k8s.IKubernetes?>(Cluster.Kubernetes), fatal) { Image = Cluster.Image };
        return await ClusterGates.For(probe, kubernetes: true).SelectMany(s => s).Single(g => g.Name == "kube-system pods Ready").CheckAsync(Ct);
    }

    [Fact]
    public async Task A_claim_of_the_default_StorageClass_binds_and_its_data_survives_a_new_pod()
    {
        var tools = await ToolsImageAsync();
        var ns = Namespace();
        var value = Guid.NewGuid().ToString("N");
        await KubectlAsync(string.Empty, "create", "namespace", ns);
        string PodUsingClaim(string name, string script) => $$"""
            apiVersion: v1
            kind: Pod
            metadata: { name: {{name}}, namespace: {{ns}} }
            spec:
              restartPolicy: Never
              securityContext: { runAsUser: 65534, runAsGroup: 65534 }
              volumes: [{ name: data, persistentVolumeClaim: { claimName: data } }]
              containers:
                - name: c
                  image: {{tools}}
                  imagePullPolicy: Never
                  command: ["sh", "-c", "{{script}}"]
                  volumeMounts: [{ name: data, mountPath: /data }]
            """;
        await ApplyAsync($$"""
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata: { name: data, namespace: {{ns}} }
            spec: { accessModes: [ReadWriteOnce], resources: { requests: { storage: 16Mi } } }
            ---
            {{PodUsingClaim("writer", $"echo {value} > /data/value && cat /data/value")}}
            """);
        Assert.Contains(value, await RunToCompletionAsync(ns, "writer"), StringComparison.Ordinal);
        await KubectlAsync(string.Empty, "delete", "pod", "-n", ns, "writer");

        await ApplyAsync(PodUsingClaim("reader", "cat /data/value"));
        Assert.Contains(value, await RunToCompletionAsync(ns, "reader"), StringComparison.Ordinal);
        var claim = await KubectlAsync(string.Empty, "get", "pvc", "-n", ns, "data", "-o", "jsonpath={.status.phase} {.spec.storageClassName}");
        output.WriteLine($"claim: {claim}; {string.Join(", ", Cluster.Components)}");
        Assert.StartsWith("Bound ", claim, StringComparison.Ordinal);

        // The claim deleted: the fallback deletes its volume and the volume's data (the controller manager only marks
        // the volume Released; deleting is the provisioner's part).
        var volume = await KubectlAsync(string.Empty, "get", "pvc", "-n", ns, "data", "-o", "jsonpath={.spec.volumeName}");
        var path = await KubectlAsync(string.Empty, "get", "pv", volume, "-o", "jsonpath={.spec.hostPath.path}");
        Assert.True((await Cluster.ExecAsync(["test", "-f", $"{path}/value"], null, Ct)).Succeeded, $"no {path}/value in the cluster container");
        await KubectlAsync(string.Empty, "delete", "pod", "-n", ns, "reader");
        await KubectlAsync(string.Empty, "delete", "pvc", "-n", ns, "data", "--wait=false");
        var gone = await Cluster.ExecAsync(["sh", "-c", $"for i in $(seq 120); do kubectl get pv {volume} >/dev/null 2>&1 || {{ test ! -e {path} && exit 0; }}; sleep 0.5; done; kubectl get pv {volume} -o wide; ls -ld {path}; exit 1"], null, Ct);
        Assert.True(gone.Succeeded, $"the volume {volume} or its data at {path} is still there a minute after its claim was deleted: {gone.StandardOutput}");
        await KubectlAsync(string.Empty, "delete", "namespace", ns, "--wait=false");
    }

    [Fact]
    public async Task Docker_compose_up_still_works_beside_Kubernetes()
    {
        _ = Cluster; // skips the test without k3s
        var session = fixture.Session!;
        var tag = $"kdt-cluster-compose:{Guid.NewGuid().ToString("N")[..8]}";
        await ClusterTestSupport.BuildTinyImageAsync(session, tag);
        try
        {
            await using (var saved = await session.Docker.Images.SaveImageAsync(tag, Ct))
            {
                var loaded = await Cluster.ExecAsync(["docker", "load"], saved, Ct);
                Assert.True(loaded.Succeeded, loaded.FirstErrorLine);
            }

            var compose = $"services:\n  tiny:\n    image: {tag}\n";
            var run = await Cluster.ExecAsync(
                ["sh", "-c", "mkdir -p /tmp/kdt-compose && cat > /tmp/kdt-compose/docker-compose.yml && cd /tmp/kdt-compose && docker-compose up --no-color 2>&1 && docker-compose down 2>&1"],
                new MemoryStream(Encoding.UTF8.GetBytes(compose)),
                Ct);
            output.WriteLine(run.StandardOutput + run.StandardError);
            Assert.True(run.Succeeded, run.FirstErrorLine);
            Assert.Contains("ldconfig", run.StandardOutput, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(session, tag);
        }
    }

    [Fact]
    public async Task Air_gap_images_supplied_at_start_are_imported_and_run()
    {
        _ = Cluster; // skips the test without k3s
        var session = fixture.Session!;
        var tag = $"kdt-airgap/tiny:{Guid.NewGuid().ToString("N")[..8]}";
        await ClusterTestSupport.BuildTinyImageAsync(session, tag);
        var directory = Directory.CreateTempSubdirectory("kdt-airgap-");
        var tarball = Path.Combine(directory.FullName, "k3s-airgap-images-amd64.tar");
        try
        {
            await using (var saved = await session.Docker.Images.SaveImageAsync(tag, Ct))
            await using (var file = File.Create(tarball))
            {
                await saved.CopyToAsync(file, Ct);
            }

            await ClusterTestSupport.RemoveImageAsync(session, tag);
            await using var cluster = await session.StartClusterAsync(
                (ClusterTestSupport.ComposeSettings("airgap") with { Image = Cluster.Image, Kubernetes = true, ReadinessTimeout = TimeSpan.FromMinutes(5), SweepFirst = false }).WithAirgapImages(tarball),
                Ct);
            var inspect = await cluster.ExecAsync(["crictl", "inspecti", tag], null, Ct);
            Assert.True(inspect.Succeeded, $"{tag} is not in containerd: {inspect.FirstErrorLine}");

            var pod = $"apiVersion: v1\nkind: Pod\nmetadata: {{ name: tiny }}\nspec:\n  restartPolicy: Never\n  containers: [{{ name: tiny, image: \"{tag}\", imagePullPolicy: Never }}]\n";
            var applied = await cluster.ExecAsync(["kubectl", "apply", "-f", "-"], new MemoryStream(Encoding.UTF8.GetBytes(pod)), Ct);
            Assert.True(applied.Succeeded, applied.FirstErrorLine);
            var wait = await cluster.ExecAsync(["sh", "-c", "for i in $(seq 120); do p=$(kubectl get pod tiny -o jsonpath='{.status.phase}'); [ \"$p\" = Succeeded ] && exit 0; [ \"$p\" = Failed ] && exit 1; sleep 1; done; exit 2"], null, Ct);
            var describe = wait.Succeeded ? null : await cluster.ExecAsync(["kubectl", "describe", "pod", "tiny"], null, Ct);
            Assert.True(wait.Succeeded, describe?.StandardOutput);
            var log = await cluster.ExecAsync(["grep", "-m1", "Importing images from /var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar", "/var/log/kubedind/k3s.log"], null, Ct);
            Assert.True(log.Succeeded, "k3s's log does not say it imported the tarball");
        }
        finally
        {
            await ClusterTestSupport.RemoveImageAsync(session, tag);
            directory.Delete(recursive: true);
        }
    }
}
