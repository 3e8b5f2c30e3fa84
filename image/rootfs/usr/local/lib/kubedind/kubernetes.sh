# shellcheck shell=bash disable=SC2153 # KUBEDIND_* come from common.sh, sourced first by the entrypoint
# kubernetes: a k3s server on its embedded containerd (or, with KUBEDIND_ROLE=agent, a k3s agent joining
# one: a multi-node cluster). Pod networking is a plain CNI bridge (no flannel); with several nodes each
# has its own /24 of the pod network and kubedind-routes routes the others' (host-gw). k3s's packaged
# components (CoreDNS, local-path storage, metrics-server) run when their images are in an air-gap tarball
# or pullable; otherwise cluster DNS and storage are KubeDind's own fallbacks (kubedind-dns,
# kubedind-storage), and metrics-server is off.
# Settings: /etc/rancher/k3s/config.yaml and registries.yaml, written by KubeDind's core before the
# container starts (as JSON, which is YAML); defaults are written here when they are missing.
# Sourced by the entrypoint (its shell options apply; start functions report failure by return code).

K3S_DATA=/var/lib/rancher/k3s
K3S_IMAGES=$K3S_DATA/agent/images
K3S_CONFIG=/etc/rancher/k3s/config.yaml
K3S_REGISTRIES=/etc/rancher/k3s/registries.yaml
KUBEDIND_SHARE=/usr/local/share/kubedind
KUBEDIND_STORAGE_DIR=$K3S_DATA/storage

kubernetes_start() {
  # Before any rule is written (k3s starts before dockerd): the iptables flavour both use.
  iptables_choose_backend || return 1
  [ "$(node_role)" = agent ] && { kubernetes_agent_start; return; }
  kubernetes_settings || return 1
  kubernetes_registry_checks_start
  kubernetes_images || return 1
  kubernetes_containerd_template || return 1
  local pod_cidr service_cidr
  pod_cidr=$(k3s_setting cluster-cidr)
  pod_cidr=${pod_cidr:-10.42.0.0/16}
  service_cidr=$(k3s_setting service-cidr)
  KUBEDIND_CLUSTER_DNS=$(k3s_setting cluster-dns)
  # k3s's default: the tenth address of the service network.
  KUBEDIND_CLUSTER_DNS=${KUBEDIND_CLUSTER_DNS:-$(cidr_address "${service_cidr:-10.43.0.0/16}" 10)}
  echo "$KUBEDIND_CLUSTER_DNS" > "$KUBEDIND_STATE/cluster-dns"
  kubernetes_choose_components

  local args=(
    server
    --pause-image="$KUBEDIND_PAUSE_IMAGE"
    --flannel-backend=none
    --disable-network-policy
    --node-name="$KUBEDIND_SERVER_NODE"
    --write-kubeconfig="$KUBEDIND_KUBECONFIG"
    --write-kubeconfig-mode=644
    --tls-san="$(hostname)"
    --tls-san=localhost
    # conntrack sysctls are not writable from a container's network namespace.
    --kube-proxy-arg=conntrack-max-per-core=0
    # No node needs a podCIDR (the bridge CNI above hands out the addresses), and the node IPAM controller's start
    # sleeps 10 s before it first lists the nodes (Kubernetes 1.21: wait.Poll), holding back every controller started
    # after it: a Deployment applied right after a warm start got its pods 10 s late.
    --kube-controller-manager-arg=allocate-node-cidrs=false
  )
  local component
  for component in "${K3S_DISABLE[@]}"; do
    args+=(--disable="$component")
  done
  if ! has_cap_sys_resource; then
    # kubelet and kube-proxy would ask for oom_score_adj -999; without CAP_SYS_RESOURCE that only warns, noisily.
    args+=(--kubelet-arg=oom-score-adj=0 --kube-proxy-arg=oom-score-adj=0)
  fi
  kube_proxy_bind_address args
  kubelet_without_csi_migration args
  kubelet_api_rate args
  kube_proxy_sync_period args
  datastore_without_fsync args

  mkdir -p "$(dirname "$KUBEDIND_KUBECONFIG")"
  k3s_launch "${args[@]}" || return 1
  # The pod network once k3s is launched: its API server needs none of it, and its containerd and kubelet, which do,
  # start seconds later; made before the launch, it held back every start's API by a tenth of a second or more.
  if ! kubernetes_network "$pod_cidr"; then
    kubernetes_stop $((SECONDS + 5))
    return 1
  fi
  # The fallbacks wait for the API themselves: started now, they serve as soon as it answers.
  kubernetes_start_fallbacks
  log "k3s: running (log $KUBEDIND_LOGS/k3s.log; kubeconfig $KUBEDIND_KUBECONFIG once the API is up)"
}

# A k3s agent joining the server K3S_URL names (with K3S_TOKEN), as node KUBEDIND_NODE_NAME; KubeDind's core
# starts one container per agent with KUBEDIND_ROLE=agent and writes its registries.yaml (localhost:5000 is
# the server's registry). No dockerd, no registry, no DNS or storage fallback: those run on the server.
kubernetes_agent_start() {
  if [ -z "${K3S_URL:-}" ] || [ -z "${K3S_TOKEN:-}" ]; then
    fail "an agent needs K3S_URL and K3S_TOKEN (KubeDind's core sets them)"
    return 1
  fi
  mkdir -p /etc/rancher/k3s
  [ -s "$K3S_CONFIG" ] || echo '{}' > "$K3S_CONFIG"
  [ -s "$K3S_REGISTRIES" ] || { fail "an agent needs $K3S_REGISTRIES (localhost:5000 -> the server's registry; KubeDind's core writes it)"; return 1; }
  log "k3s: registries: $(jq -c '.mirrors // {} | with_entries(.value = .value.endpoint)' "$K3S_REGISTRIES")"
  kubernetes_images || return 1
  kubernetes_containerd_template || return 1
  kubernetes_network "${KUBEDIND_CLUSTER_CIDR:-10.42.0.0/16}" || return 1
  local args=(
    agent
    --pause-image="$KUBEDIND_PAUSE_IMAGE"
    --node-name="${KUBEDIND_NODE_NAME:-$(hostname)}"
    --kube-proxy-arg=conntrack-max-per-core=0
  )
  if ! has_cap_sys_resource; then
    args+=(--kubelet-arg=oom-score-adj=0 --kube-proxy-arg=oom-score-adj=0)
  fi
  kube_proxy_bind_address args
  kubelet_without_csi_migration args
  kubelet_api_rate args
  kube_proxy_sync_period args
  k3s_launch "${args[@]}" || return 1
  log "k3s: agent running, joining $K3S_URL (log $KUBEDIND_LOGS/k3s.log)"
}

# kubelet_without_csi_migration ARRAY: on k3s 1.21 to 1.24, the kubelet with its CSIMigration feature off. With it on
# (the default there), the kubelet ends the whole k3s process when its node is not registered within ~140 s of the API
# answering ("Failed to initialize CSINode after retrying"), which a CPU-starved host reaches; a throwaway cluster has
# no in-tree cloud volumes to migrate. From 1.25 the gate is locked on and may not be named.
kubelet_without_csi_migration() {
  local -n kubelet_args=$1
  local minor
  minor=$(k3s_minor)
  [ -n "$minor" ] && [ "$minor" -ge 21 ] && [ "$minor" -le 24 ] || return 0
  kubelet_args+=(--kubelet-arg=feature-gates=CSIMigration=false)
}

# kubelet_api_rate ARRAY: on k3s before 1.27, the kubelet's API client at the rate Kubernetes 1.27 made its default
# (50 requests a second, bursts of 100) instead of 5 and 10. At the old rate a node starting six pods at once queued
# their token requests and status updates behind each other, about 0.4 s apart: the API showed the last container
# running 3-4 s after containerd had started it. A rate config.yaml sets (the user's kubelet-arg) is left as it is.
kubelet_api_rate() {
  local -n rate_args=$1
  local minor setting
  minor=$(k3s_minor)
  [ -n "$minor" ] && [ "$minor" -lt 27 ] || return 0
  for setting in kube-api-qps=50 kube-api-burst=100; do
    if k3s_arg_unset kubelet-arg "${setting%%=*}"; then
      rate_args+=(--kubelet-arg="$setting")
    fi
  done
}

# kube_proxy_sync_period ARRAY: kube-proxy applies a Service's endpoint changes after at least 0.1 s instead of its
# default 1 s (iptables-min-sync-period, 1 s since Kubernetes 1.19). Deploy waits until every node routes each Service
# it applied to its ready pods; at 1 s the example's last route came 0.9-1.2 s after its pod was Ready, and its Deploy
# took 2.7-3.8 s instead of 1.6-2.7 s. A burst of changes still makes at most about ten iptables-restore runs a
# second. A period config.yaml sets (the user's kube-proxy-arg) is left as it is.
kube_proxy_sync_period() {
  local -n proxy_args=$1
  if k3s_arg_unset kube-proxy-arg iptables-min-sync-period; then
    proxy_args+=(--kube-proxy-arg=iptables-min-sync-period=100ms)
  fi
}

# k3s_arg_unset KEY NAME: true unless config.yaml's KEY (kubelet-arg, kube-proxy-arg: a list or one string) sets NAME.
k3s_arg_unset() {
  k3s_config_load 2>/dev/null || return 0
  [[ " ${K3S_ARG_NAMES[$1]-} " != *" $2 "* ]]
}

# k3s_minor: the Kubernetes minor version of the image's k3s (21 for v1.21.2+k3s1); empty when unknown.
k3s_minor() {
  sed -n 's/^v1\.\([0-9]*\)\..*/\1/p' "$KUBEDIND_LIB/k3s-dist/version" 2>/dev/null
}

# datastore_without_fsync ARRAY: k3s's datastore (kine on SQLite) without an fsync per write, unless config.yaml
# names a datastore of its own: a throwaway cluster needs no durability against power loss (kind runs etcd with
# --unsafe-no-fsync for the same reason), and a cluster start writes thousands of rows. The file is k3s's default,
# so saved states hold it as before.
datastore_without_fsync() {
  local -n to=$1
  [ -z "$(k3s_setting datastore-endpoint)" ] || return 0
  mkdir -p "$K3S_DATA/server/db"
  to+=("--datastore-endpoint=sqlite://$K3S_DATA/server/db/state.db?_journal=WAL&cache=shared&_synchronous=OFF")
}

# kube_proxy_bind_address ARRAY: adds --kube-proxy-arg=bind-address=<this container's address> to the array ARRAY.
# Without it kube-proxy reads its node's address from the API, retrying with a doubling backoff while RBAC is not
# ready yet (1, 2, 4, 8 s): its Service rules, and so the cluster DNS address, came up to 8 s after the node was
# Ready. The address is the one k3s takes as the node IP: the source address of the default route.
kube_proxy_bind_address() {
  local -n into=$1
  local address
  address=$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") {print $(i + 1); exit}}')
  [ -z "$address" ] || into+=(--kube-proxy-arg=bind-address="$address")
}

# k3s_launch ARGS...: starts k3s in the background (pid in $KUBEDIND_STATE/k3s.pid) without waiting;
# kubernetes_check_launched reports an exit within its first second.
k3s_launch() {
  local version
  mkdir -p "$KUBEDIND_LOGS"
  # The version the image build read (k3s --version costs a few hundred ms of a start).
  version=$(cat "$KUBEDIND_LIB/k3s-dist/version" 2>/dev/null) || version=$($KUBEDIND_K3S --version | head -n1)
  k3s_config_load 2>/dev/null || K3S_CONFIG_COMPACT=unreadable
  log "k3s: k3s version ${version#k3s version }; starting: k3s $* (and $K3S_CONFIG: $K3S_CONFIG_COMPACT)"
  K3S_ARGS=("$@")
  k3s_run
}

# k3s_run: runs k3s with K3S_ARGS in the background, its output appended to k3s.log from line K3S_LOG_FROM on.
k3s_run() {
  touch "$KUBEDIND_LOGS/k3s.log"
  K3S_LOG_FROM=$(wc -l < "$KUBEDIND_LOGS/k3s.log")
  # k3s-dist/bin first: containerd, ctr, crictl, kubectl as argv[0] links to k3s. /usr/lib/cni last:
  # Debian's CNI plugins serve when the k3s build bundles none.
  PATH="$KUBEDIND_LIB/k3s-dist/bin:$PATH:/usr/lib/cni" "$KUBEDIND_K3S" "${K3S_ARGS[@]}" >>"$KUBEDIND_LOGS/k3s.log" 2>&1 &
  K3S_PID=$!
  K3S_LAUNCHED=$(date +%s%N)
  echo "$K3S_PID" > "$KUBEDIND_STATE/k3s.pid"
}

# k3s_restart_after_start_fatal: restarts k3s (twice at most, saying so) when a component inside it ended it while
# starting because its own API server was too slow to answer: the kubelet ("Failed to initialize CSINode after
# retrying") or the controller manager ("failed to wait for apiserver being healthy"), fatals that end the whole k3s
# process on a CPU-starved host. k3s relies on its supervisor for this (its service unit has Restart=always) and
# resumes from its state on disk. Any other exit stays a failure: returns 1.
K3S_RESTARTS=0
k3s_restart_after_start_fatal() {
  local fatal
  [ "$K3S_RESTARTS" -lt 2 ] || return 1
  fatal=$(tail -n +"$((K3S_LOG_FROM + 1))" "$KUBEDIND_LOGS/k3s.log" | grep -E '^F[0-9]{4} .*(Failed to initialize CSINode|failed to wait for apiserver being healthy)' | tail -n1)
  [ -n "$fatal" ] || return 1
  K3S_RESTARTS=$((K3S_RESTARTS + 1))
  log "k3s: a component gave up waiting for the API server while starting (${fatal:0:160}); restarting k3s ($K3S_RESTARTS of 2), as its service unit would"
  k3s_run
}

# k3s rejects bad flags at once: reported as a failed start (a later exit is the watch loop's), checked a
# second after the launch, once dockerd and the registry started, so that nothing waits for it.
kubernetes_check_launched() {
  local waited_ms
  [ -n "${K3S_PID:-}" ] || return 0
  waited_ms=$(( ($(date +%s%N) - K3S_LAUNCHED) / 1000000 ))
  [ "$waited_ms" -ge 1000 ] || sleep "0.$(printf '%03d' $((1000 - waited_ms)))"
  if ! kill -0 "$K3S_PID" 2>/dev/null; then
    log_tail k3s
    fail "k3s exited at start: $(grep -E 'level=fatal|Error|error' "$KUBEDIND_LOGS/k3s.log" | tail -n1 | cut -c1-300)"
    return 1
  fi
}

# k3s_setting NAME: the value of NAME in config.yaml (the last one when it is a list), or nothing.
k3s_setting() {
  k3s_config_load 2>/dev/null || return 0
  printf '%s\n' "${K3S_SETTING[$1]-}"
}

# k3s_config_load: reads config.yaml once (the first call; false when it is not a JSON object) into
#   K3S_SETTING[NAME]    NAME's value (the last one when it is a list), for each NAME set
#   K3S_ARG_NAMES[KEY]   the NAMEs a list (or string) of NAME=VALUE arguments sets, e.g. kubelet-arg: "kube-api-qps v"
#   K3S_USER_DISABLED    the components in disable, one a line
#   K3S_CONFIG_COMPACT   the whole document on one line, for the log
# One jq instead of one per question: each jq costs a few tens of ms, and a dozen of them ran before k3s's launch,
# delaying every start's API by that much. Nothing writes config.yaml after kubernetes_settings.
k3s_config_load() {
  [ -z "${K3S_CONFIG_LOADED:-}" ] || return 0
  local facts
  facts=$(jq -r 'if type != "object" then error("not an object") else . end
    | "K3S_CONFIG_COMPACT=\(tojson | @sh)",
      (to_entries[] | select(.value != null and .value != false)
        | (if (.value | type) == "array" then .value[-1] else .value end) as $last
        | (if $last == null then empty else "K3S_SETTING[\(.key | @sh)]=\($last | tostring | @sh)" end),
          "K3S_ARG_NAMES[\(.key | @sh)]=\([.value | if type == "array" then .[] else . end | strings | ltrimstr("--")
            | select(contains("=")) | split("=")[0]] | join(" ") | @sh)"),
      "K3S_USER_DISABLED=\([.disable // [] | if type == "array" then .[] else . end | tostring | split(",")[]] | join("\n") | @sh)"
  ' "$K3S_CONFIG") || return 1
  declare -gA K3S_SETTING=() K3S_ARG_NAMES=()
  eval "$facts"
  K3S_CONFIG_LOADED=1
}

# cidr_address CIDR N: the Nth address of the network CIDR (IPv4), e.g. 10.43.0.0/16 10 -> 10.43.0.10.
cidr_address() {
  local a b c d
  IFS=. read -r a b c d <<< "${1%/*}"
  echo "$a.$b.$c.$((d + $2))"
}

# config.yaml and registries.yaml: KubeDind's core writes both; the defaults here serve the image on its own.
kubernetes_settings() {
  local registries
  mkdir -p /etc/rancher/k3s
  [ -s "$K3S_CONFIG" ] || echo '{"disable": ["traefik", "servicelb"]}' > "$K3S_CONFIG"
  if ! k3s_config_load 2>/dev/null; then
    fail "$K3S_CONFIG is not a JSON object (KubeDind writes it as JSON, which k3s reads as YAML); fix or remove it"
    return 1
  fi
  if [ ! -s "$K3S_REGISTRIES" ]; then
    # localhost:5000 in pod specs is the registry in this container; docker.io through KUBEDIND_REGISTRY_MIRRORS.
    local mirrors
    mirrors=$(echo "${KUBEDIND_REGISTRY_MIRRORS:-}" | tr ',' '\n' | tr -d ' ' | grep -E '^https?://' | jq -Rsc 'split("\n") | map(select(length > 0))')
    jq -n --argjson mirrors "$mirrors" \
      '{mirrors: ({"localhost:5000": {endpoint: ["http://127.0.0.1:5000"]}} + (if ($mirrors | length) > 0 then {"docker.io": {endpoint: $mirrors}} else {} end))}' \
      > "$K3S_REGISTRIES"
  fi
  # One jq: the mirrors for the log on the first line, then docker.io's endpoints (the registry checks ask them).
  if ! registries=$(jq -r 'if type != "object" then error("not an object") else . end
    | ((.mirrors // {} | with_entries(.value = .value.endpoint) | tojson)? // "unreadable"),
      (.mirrors["docker.io"]?.endpoint[]? | strings)' \
    "$K3S_REGISTRIES" 2>/dev/null); then
    fail "$K3S_REGISTRIES is not a JSON object (KubeDind writes it as JSON, which k3s reads as YAML); fix or remove it"
    return 1
  fi
  KUBEDIND_MIRROR_ENDPOINTS=""
  [[ $registries != *$'\n'* ]] || KUBEDIND_MIRROR_ENDPOINTS=${registries#*$'\n'}
  log "k3s: registries: ${registries%%$'\n'*}"
}

# The pause image and any air-gap image tarball baked into the image are linked into agent/images, which
# k3s imports into containerd at every start (a tarball the core copied there is imported the same way).
kubernetes_images() {
  mkdir -p "$K3S_IMAGES"
  ln -sf "$KUBEDIND_SHARE/pause-image.tar" "$K3S_IMAGES/kubedind-pause.tar"
  local file
  for file in "$KUBEDIND_SHARE"/airgap/*; do
    [ -f "$file" ] || continue
    ln -sf "$file" "$K3S_IMAGES/kubedind-baked-$(basename "$file")"
  done
  for file in "$K3S_IMAGES"/*; do
    [ -f "$file" ] && [ "$(basename "$file")" != kubedind-pause.tar ] && log "k3s: air-gap images: $file (imported by k3s at start)"
  done
  return 0
}

# KubeDind's core rendered the template in the form this k3s's containerd reads (config.toml.tmpl, version 2, for
# containerd 1.x; config-v3.toml.tmpl, version 3, for containerd 2.x) and put it into the image with the k3s version.
kubernetes_containerd_template() {
  local restrict=false dir=$K3S_DATA/agent/etc/containerd template name
  has_cap_sys_resource || restrict=true
  mkdir -p "$dir"
  for template in "$KUBEDIND_SHARE"/containerd/config.toml.tmpl "$KUBEDIND_SHARE"/containerd/config-v3.toml.tmpl; do
    [ -f "$template" ] || continue
    name=$(basename "$template")
    sed "s/@RESTRICT_OOM_SCORE_ADJ@/$restrict/" "$template" > "$dir/$name" \
      || { fail "cannot write $dir/$name"; return 1; }
    log "k3s: containerd configuration template $name"
  done
  [ -f "$dir/config.toml.tmpl" ] || [ -f "$dir/config-v3.toml.tmpl" ] \
    || { fail "this image holds no containerd configuration template ($KUBEDIND_SHARE/containerd/); build it with KubeDind (ClusterImage), which renders one for its k3s"; return 1; }
  [ "$restrict" = false ] || log "k3s: no CAP_SYS_RESOURCE: containerd keeps pods' oom_score_adj at this container's own (restrict_oom_score_adj)"
}

# The image names inside the air-gap tarballs in agent/images (docker save or OCI layout).
airgap_image_names() {
  local file
  for file in "$K3S_IMAGES"/*; do
    # KubeDind's pause image names no component (and a tar and a jq cost a start tens of ms).
    if [ ! -f "$file" ] || [ "${file##*/}" = kubedind-pause.tar ]; then continue; fi
    {
      case "$file" in
        *.tar) tar -xOf "$file" manifest.json ./manifest.json index.json ./index.json ;;
        *.tar.gz | *.tgz) tar -xzOf "$file" manifest.json ./manifest.json index.json ./index.json ;;
        *.tar.zst | *.tzst) zstd -dcq "$file" | tar -xOf - manifest.json ./manifest.json index.json ./index.json ;;
        *) true ;;
      esac 2>/dev/null || true
    } | jq -r 'if type == "array" then .[].RepoTags[]? else .manifests[]?.annotations["io.containerd.image.name"]? // empty end' 2>/dev/null || true
  done
}

# kubernetes_registry_checks_start: starts the registry checks kubernetes_choose_components decides from, in the
# background: whether docker.io's upstream answers at all (online), and the tag list of each packaged component's
# repositories on each of docker.io's mirrors in registries.yaml (KUBEDIND_MIRROR_ENDPOINTS, from kubernetes_settings). One curl asks the
# mirrors for all of them side by side: a curl and a jq per check cost most of the time before k3s's launch. The
# answers are in KUBEDIND_CHECKS, the Nth mirror's for rancher/REPOSITORY in tags-N-REPOSITORY (mirror_holding reads
# them); kubernetes_choose_components waits for KUBEDIND_CHECK_PIDS.
kubernetes_registry_checks_start() {
  local endpoint number=0 component pattern role repository transfers=()
  KUBEDIND_CHECKS=$(mktemp -d)
  KUBEDIND_CHECK_PIDS=()
  curl -s -m 3 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ > "$KUBEDIND_CHECKS/upstream" 2>/dev/null &
  KUBEDIND_CHECK_PIDS+=($!)
  for endpoint in $KUBEDIND_MIRROR_ENDPOINTS; do
    number=$((number + 1))
    while read -r component pattern role; do
      for repository in "$pattern" "mirrored-$pattern"; do
        transfers+=("${endpoint%/}/v2/rancher/$repository/tags/list" -o "$KUBEDIND_CHECKS/tags-$number-$repository")
      done
    done <<< "$K3S_COMPONENTS"
  done
  [ ${#transfers[@]} -gt 0 ] || return 0
  curl --parallel --parallel-max 20 -fs -m 3 "${transfers[@]}" 2>/dev/null &
  KUBEDIND_CHECK_PIDS+=($!)
}

# mirror_holding PATTERN: the first of docker.io's mirrors whose tag list for rancher/PATTERN or
# rancher/mirrored-PATTERN names a tag (a cache-only mirror lists only what it holds), from the checks' answers; nothing
# when none does.
mirror_holding() {
  local endpoint number=0 repository tags
  for endpoint in $KUBEDIND_MIRROR_ENDPOINTS; do
    number=$((number + 1))
    for repository in "$1" "mirrored-$1"; do
      tags=""
      [ -s "$KUBEDIND_CHECKS/tags-$number-$repository" ] && { IFS= read -r tags || true; } < "$KUBEDIND_CHECKS/tags-$number-$repository"
      if [[ $tags =~ \"tags\":[[:space:]]*\[[[:space:]]*\" ]]; then
        echo "$endpoint"
        return 0
      fi
    done
  done
}

# k3s's packaged components: the component, the image it needs, what it provides.
K3S_COMPONENTS='coredns coredns-coredns dns
local-storage local-path-provisioner storage
metrics-server metrics-server metrics
traefik library-traefik ingress
servicelb klipper-lb load-balancer'

# Decides, per packaged component, whether k3s runs it: its image is in an air-gap tarball, or pullable (from a mirror
# that holds it, or from the upstream when it answers; kubernetes_registry_checks_start). Fills K3S_DISABLE and writes
# the components into the status document.
kubernetes_choose_components() {
  local names registry user_disabled upstream entries=() component pattern role source
  names=$(airgap_image_names)
  k3s_config_load 2>/dev/null || true
  user_disabled=${K3S_USER_DISABLED:-}
  wait "${KUBEDIND_CHECK_PIDS[@]}"
  # curl's HTTP status, 000 when nothing answered.
  upstream=$(cat "$KUBEDIND_CHECKS/upstream" 2>/dev/null) || true
  K3S_DISABLE=()
  KUBEDIND_DNS_FALLBACK=false
  KUBEDIND_STORAGE_FALLBACK=false
  while read -r component pattern role; do
    if [[ $'\n'$user_disabled$'\n' == *$'\n'$component$'\n'* ]]; then
      component_entry "$role" none false "disabled in $K3S_CONFIG" "" true
      continue
    fi
    source=""
    if [[ $names =~ /(mirrored-)?$pattern: ]]; then
      source="air-gap images"
    elif registry=$(mirror_holding "$pattern") && [ -n "$registry" ]; then
      source="pulled through $registry"
    elif [ -n "$upstream" ] && [ "$upstream" != 000 ]; then
      source="pulled through https://registry-1.docker.io"
    fi
    if [ -n "$source" ]; then
      component_entry "$role" "$component" false "$source" "$component"
      log "k3s: $component runs ($source)"
      continue
    fi
    case "$component" in
      coredns)
        K3S_DISABLE+=(coredns)
        KUBEDIND_DNS_FALLBACK=true
        component_entry dns dnsmasq true "CoreDNS's image is neither in an air-gap tarball nor pullable" ""
        ;;
      local-storage)
        K3S_DISABLE+=(local-storage)
        KUBEDIND_STORAGE_FALLBACK=true
        component_entry storage host-path true "local-path-provisioner's image is neither in an air-gap tarball nor pullable" ""
        ;;
      traefik | servicelb)
        # Asked for explicitly: keep it on, so that the readiness gate names what is missing.
        warn "k3s: $component is enabled but its image ($pattern) is neither in an air-gap tarball nor pullable; its pods will not start. Supply k3s's air-gap images or a registry mirror."
        component_entry "$role" "$component" false "image unavailable" "$component"
        ;;
      *)
        K3S_DISABLE+=("$component")
        log "k3s: $component is off: its image ($pattern) is neither in an air-gap tarball nor pullable (supply k3s's air-gap images to get it)"
        component_entry "$role" none false "image unavailable" ""
        ;;
    esac
  done <<< "$K3S_COMPONENTS"
  # k3s runs with --disable-network-policy (kubernetes_start): said here so that a deploy names the policies it applies
  # as not enforced.
  component_entry network-policy none false "k3s runs without its network policy controller" ""
  rm -rf "$KUBEDIND_CHECKS"
  printf '%s\n' "${entries[@]}" | status_components
  # Said from the entries, not read back from the status document: a jq less before k3s's launch.
  local entry role implementation fallback said=""
  for entry in "${entries[@]}"; do
    IFS=$'\t' read -r role implementation fallback _ <<< "$entry"
    said+="${said:+, }$role=$implementation"
    if [ "$fallback" = true ]; then said+=" (fallback)"; fi
  done
  log "k3s: components: $said"
}

# component_entry ROLE IMPLEMENTATION FALLBACK DETAIL [COMPONENT [TURNED_OFF_BY_USER]]: appends one line (tab-separated,
# status_components's input) to the caller's entries, with the pods COMPONENT runs in kube-system; plain bash: a jq or a subshell per component cost a
# noticeable part of a start under load, before k3s is even launched.
component_entry() {
  local pods=""
  case "${5:-}" in
    coredns) pods=coredns ;;
    local-storage) pods=local-path-provisioner ;;
    metrics-server) pods=metrics-server ;;
    traefik) pods=traefik ;;
  esac
  entries+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4"$'\t'"$pods"$'\t'"${6:-false}")
}

# The fallbacks run beside k3s, each waiting for the API itself.
kubernetes_start_fallbacks() {
  if [ "$KUBEDIND_DNS_FALLBACK" = true ]; then
    kubedind-dns "$KUBEDIND_CLUSTER_DNS" "$KUBEDIND_POD_GATEWAY" >"$KUBEDIND_LOGS/dns.log" 2>&1 &
    echo $! > "$KUBEDIND_STATE/dns.pid"
    warn "dns: CoreDNS's image is not available (no air-gap images, no registry answers): cluster DNS at $KUBEDIND_CLUSTER_DNS is KubeDind's fallback (dnsmasq, following Services; log $KUBEDIND_LOGS/dns.log). For CoreDNS supply k3s's air-gap images (ClusterSettings.AirgapImages) or a registry mirror."
  fi
  if [ "$KUBEDIND_STORAGE_FALLBACK" = true ]; then
    kubedind-storage "$KUBEDIND_STORAGE_DIR" >"$KUBEDIND_LOGS/storage.log" 2>&1 &
    echo $! > "$KUBEDIND_STATE/storage.pid"
    warn "storage: local-path-provisioner's image is not available: the default StorageClass local-path is KubeDind's fallback (claims bound to host-path volumes under $KUBEDIND_STORAGE_DIR; log $KUBEDIND_LOGS/storage.log). For the real provisioner supply k3s's air-gap images (ClusterSettings.AirgapImages) or a registry mirror."
  fi
}

# Pod networking without flannel: a bridge conflist (Debian's plugins in /usr/lib/cni), the bridge made
# up front (the DNS fallback listens on its gateway address before any pod exists), and ACCEPT rules
# for the pod network because dockerd sets the FORWARD policy to DROP. A single node hands out the whole
# pod network CIDR. In a multi-node cluster (KUBEDIND_NODES set) node KUBEDIND_NODE_INDEX hands out its own
# /24 of it, kubedind-routes routes the other nodes' /24s via their containers (host-gw), and pod traffic
# leaving the pod network is masqueraded by one rule (the bridge plugin's ipMasq would also masquerade
# pod-to-pod traffic to other nodes, hiding the source pod).
kubernetes_network() {
  local cidr=$1 subnet=$1 masquerade=true dir prefix
  if [ -n "${KUBEDIND_NODES:-}" ]; then
    subnet=$(node_subnet "$cidr" "${KUBEDIND_NODE_INDEX:-0}") \
      || { fail "the pod network $cidr has no /24 for node ${KUBEDIND_NODE_INDEX:-0} (a multi-node cluster needs a cluster-cidr of /24 per node or larger)"; return 1; }
    masquerade=false
  fi
  prefix=${subnet#*/}
  KUBEDIND_POD_GATEWAY=$(cidr_address "$subnet" 1)
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
      "ipMasq": $masquerade,
      "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$subnet", "gateway": "$KUBEDIND_POD_GATEWAY" }]], "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
  done
  ip link show kubedind0 >/dev/null 2>&1 || ip link add kubedind0 type bridge \
    || { fail "cannot create the pod bridge kubedind0 (the container needs CAP_NET_ADMIN)"; return 1; }
  ip addr show dev kubedind0 | grep -q "inet $KUBEDIND_POD_GATEWAY/" || ip addr add "$KUBEDIND_POD_GATEWAY/$prefix" dev kubedind0
  ip link set kubedind0 up
  iptables -w -C FORWARD -s "$cidr" -j ACCEPT 2>/dev/null || iptables -w -I FORWARD 1 -s "$cidr" -j ACCEPT \
    || { fail "cannot add the iptables FORWARD rule for the pod network $cidr"; return 1; }
  iptables -w -C FORWARD -d "$cidr" -j ACCEPT 2>/dev/null || iptables -w -I FORWARD 1 -d "$cidr" -j ACCEPT
  sysctl -qw net.ipv4.ip_forward=1 2>/dev/null || true
  # Bridged pod traffic must pass iptables for Services to work (kube-proxy's rules).
  modprobe br_netfilter 2>/dev/null || true
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || warn "k3s: net.bridge.bridge-nf-call-iptables cannot be set; Service traffic between pods may fail"
  if [ "$masquerade" = false ]; then
    iptables -w -t nat -C POSTROUTING -s "$cidr" ! -d "$cidr" -j MASQUERADE 2>/dev/null \
      || iptables -w -t nat -A POSTROUTING -s "$cidr" ! -d "$cidr" -j MASQUERADE \
      || { fail "cannot add the iptables MASQUERADE rule for the pod network $cidr"; return 1; }
    kubedind-routes "$cidr" >"$KUBEDIND_LOGS/routes.log" 2>&1 &
    echo $! > "$KUBEDIND_STATE/routes.pid"
    log "k3s: node ${KUBEDIND_NODE_INDEX:-0} of a multi-node cluster: pods in $subnet on bridge kubedind0 (gateway $KUBEDIND_POD_GATEWAY), the other nodes' subnets of $cidr routed via their containers (log $KUBEDIND_LOGS/routes.log)"
    return 0
  fi
  log "k3s: pod network $cidr on bridge kubedind0 (gateway $KUBEDIND_POD_GATEWAY)"
}

kubernetes_stop() {
  local deadline=$1 pid component
  for component in dns storage routes; do
    pid=$(cat "$KUBEDIND_STATE/$component.pid" 2>/dev/null) || continue
    stop_process "$component" "$pid" "$deadline"
  done
  # Pods first, while k3s still runs: their containers get a short grace.
  if [ -S /run/k3s/containerd/containerd.sock ]; then
    local left=$((deadline - SECONDS > 1 ? deadline - SECONDS : 1)) containers
    containers=$(timeout "$left" crictl ps -q 2>/dev/null || true)
    if [ -n "$containers" ]; then
      # shellcheck disable=SC2086 # one argument per container id
      timeout "$left" crictl stop --timeout 2 $containers >/dev/null 2>&1 || true
      log "pods stopped"
    fi
  fi
  pid=$(cat "$KUBEDIND_STATE/k3s.pid" 2>/dev/null) || return 0
  stop_process k3s "$pid" "$deadline"
}
