# shellcheck shell=bash
# kubernetes: a single-node k3s server whose container runtime is the inner dockerd (--docker), so pods,
# `docker ps` and images loaded into dockerd are one world. Pod networking is a plain CNI bridge
# (no flannel); components whose images would have to be pulled stay off unless air-gap images exist.

K3S_DATA=/var/lib/rancher/k3s
K3S_AIRGAP_DIRS="/usr/local/share/kubedind/airgap $K3S_DATA/agent/images"
K3S_PULLED_COMPONENTS="traefik,servicelb,metrics-server,local-storage,coredns"

kubernetes_start() {
  kubernetes_load_images || return 1
  local pod_cidr
  pod_cidr=$(k3s_arg_value cluster-cidr "${KUBEDIND_K3S_ARGS:-}")
  pod_cidr=${pod_cidr:-10.42.0.0/16}
  kubernetes_network "$pod_cidr" || return 1

  local args=(
    server
    --docker
    --pause-image="$KUBEDIND_PAUSE_IMAGE"
    --flannel-backend=none
    --disable-network-policy
    --node-name=kubedind
    --write-kubeconfig="$KUBEDIND_KUBECONFIG"
    --write-kubeconfig-mode=644
    --tls-san="$(hostname)"
    --tls-san=localhost
    # conntrack sysctls are not writable from a container's network namespace.
    --kube-proxy-arg=conntrack-max-per-core=0
  )
  if [ "$KUBEDIND_AIRGAP_IMAGES" = 0 ]; then
    args+=(--disable="$K3S_PULLED_COMPONENTS")
    log "k3s: no air-gap images: $K3S_PULLED_COMPONENTS stay disabled (their images cannot be pulled)"
  fi
  if ! has_cap_sys_resource; then
    # kubelet and kube-proxy would ask for oom_score_adj -999; without CAP_SYS_RESOURCE that only warns, noisily.
    args+=(--kubelet-arg=oom-score-adj=0 --kube-proxy-arg=oom-score-adj=0)
  fi
  # shellcheck disable=SC2206 # extra args are split on spaces, like a command line
  local extra=(${KUBEDIND_K3S_ARGS:-})
  args+=("${extra[@]}")

  mkdir -p "$KUBEDIND_LOGS" "$(dirname "$KUBEDIND_KUBECONFIG")"
  log "k3s: $($KUBEDIND_K3S --version | head -n1); starting: k3s ${args[*]}"
  # /usr/lib/cni last on PATH: Debian's CNI plugins serve when the k3s build bundles none.
  PATH="$PATH:/usr/lib/cni" "$KUBEDIND_K3S" "${args[@]}" >"$KUBEDIND_LOGS/k3s.log" 2>&1 &
  K3S_PID=$!
  echo "$K3S_PID" > "$KUBEDIND_STATE/k3s.pid"
  # k3s rejects bad flags and a broken environment within seconds: report that here, not as "never ready".
  for _ in 1 2 3 4 5 6; do
    sleep 0.5
    if ! kill -0 "$K3S_PID" 2>/dev/null; then
      log_tail k3s
      fail "k3s exited at start: $(grep -E 'level=fatal|Error|error' "$KUBEDIND_LOGS/k3s.log" | tail -n1 | cut -c1-300)"
      return 1
    fi
  done
  log "k3s: running (log $KUBEDIND_LOGS/k3s.log; kubeconfig $KUBEDIND_KUBECONFIG once the API is up)"
}

# The pause image and any air-gap image tarballs go into the inner dockerd: with --docker k3s does not
# import them itself, and no pull is ever needed for a pod sandbox.
kubernetes_load_images() {
  if ! docker image inspect "$KUBEDIND_PAUSE_IMAGE" >/dev/null 2>&1; then
    docker load -i /usr/local/share/kubedind/pause-image.tar >/dev/null \
      || { fail "cannot load the pause image into the inner dockerd"; return 1; }
  fi
  KUBEDIND_AIRGAP_IMAGES=0
  local dir file marker
  mkdir -p /var/lib/docker/kubedind-loaded
  for dir in $K3S_AIRGAP_DIRS; do
    for file in "$dir"/*.tar "$dir"/*.tar.gz "$dir"/*.tgz "$dir"/*.tar.zst; do
      [ -f "$file" ] || continue
      KUBEDIND_AIRGAP_IMAGES=1
      marker=/var/lib/docker/kubedind-loaded/$(basename "$file").$(stat -c %s-%Y "$file")
      [ -f "$marker" ] && continue
      log "k3s: loading air-gap images from $file"
      case "$file" in
        *.zst) zstd -dc "$file" | docker load >/dev/null ;;
        *) docker load -i "$file" >/dev/null ;;
      esac || { fail "air-gap image tarball $file is unreadable (docker load failed); supply an images tarball from the k3s release"; return 1; }
      touch "$marker"
    done
  done
}

# Pod networking without flannel: a bridge conflist (plugins from k3s or Debian's /usr/lib/cni), and
# ACCEPT rules for the pod network because dockerd sets the FORWARD policy to DROP.
kubernetes_network() {
  local cidr=$1 dir
  for dir in /etc/cni/net.d "$K3S_DATA/agent/etc/cni/net.d"; do
    mkdir -p "$dir"
    cat > "$dir/10-kubedind.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "kubedind",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "kubedind0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$cidr" }]], "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
  done
  iptables -w -C FORWARD -s "$cidr" -j ACCEPT 2>/dev/null || iptables -w -I FORWARD 1 -s "$cidr" -j ACCEPT \
    || { fail "cannot add the iptables FORWARD rule for the pod network $cidr"; return 1; }
  iptables -w -C FORWARD -d "$cidr" -j ACCEPT 2>/dev/null || iptables -w -I FORWARD 1 -d "$cidr" -j ACCEPT
  sysctl -qw net.ipv4.ip_forward=1 2>/dev/null || true
  # Bridged pod traffic must pass iptables for Services to work (kube-proxy's rules).
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || warn "k3s: net.bridge.bridge-nf-call-iptables cannot be set; Service traffic between pods may fail"
  log "k3s: pod network $cidr on bridge kubedind0"
}

# k3s_arg_value NAME ARGS: the value of --NAME=value or --NAME value in ARGS.
k3s_arg_value() {
  local name=$1 previous="" arg
  for arg in $2; do
    case "$arg" in --"$name"=*) echo "${arg#*=}"; return ;; esac
    [ "$previous" = "--$name" ] && { echo "$arg"; return; }
    previous=$arg
  done
}

kubernetes_stop() {
  local deadline=$1 pid containers
  # Pods first, while k3s and dockerd still run: their containers get a short grace.
  containers=$(docker ps -q --filter label=io.kubernetes.pod.namespace 2>/dev/null || true)
  if [ -n "$containers" ]; then
    # shellcheck disable=SC2086
    timeout $((deadline - SECONDS > 1 ? deadline - SECONDS : 1)) docker stop -t 2 $containers >/dev/null 2>&1 || true
    log "pods stopped"
  fi
  pid=$(cat "$KUBEDIND_STATE/k3s.pid" 2>/dev/null) || return 0
  stop_process k3s "$pid" "$deadline"
}
