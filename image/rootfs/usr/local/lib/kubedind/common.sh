# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this file
# Shared by the entrypoint, the component scripts and kubedind-ready: paths, logging, small helpers.
# Sourced, never run: the sourcing script sets the shell options (set -euo pipefail, or why not).
KUBEDIND_LIB=/usr/local/lib/kubedind
KUBEDIND_LOGS=/var/log/kubedind
# The facts the image and KubeDind's core share (the core embeds the same file): paths, the status schema version and
# the server's node name, written once there.
KUBEDIND_CONTRACT=${KUBEDIND_CONTRACT:-/etc/kubedind/contract.json}
IFS=$'\t' read -r _contract_schema _contract_state _contract_status _contract_version_file _contract_node _contract_layers \
  < <(jq -r '[.statusSchemaVersion, .stateDirectory, .statusFileName, .k3sVersionFile, .serverNodeName, .layerStoreDirectory] | @tsv' "$KUBEDIND_CONTRACT")
KUBEDIND_STATE=${KUBEDIND_STATE:-$_contract_state}
# The container's status for KubeDind's core and kubedind-ready: one JSON document, written only by status_write.
KUBEDIND_STATUS=$KUBEDIND_STATE/$_contract_status
# Raised whenever a field changes meaning or goes away; the core refuses a document of another version.
KUBEDIND_STATUS_SCHEMA=$_contract_schema
# Where the image build recorded the k3s version it holds ("none" in compose mode).
KUBEDIND_K3S_VERSION_FILE=${KUBEDIND_K3S_VERSION_FILE:-$_contract_version_file}
KUBEDIND_PAUSE_IMAGE=kubedind/pause:3.10
KUBEDIND_KUBECONFIG=/etc/kubedind/kubeconfig.yaml
KUBEDIND_K3S=/usr/local/bin/k3s
# The server's node name (k3s --node-name): agents of a multi-node cluster are named by KubeDind's core.
KUBEDIND_SERVER_NODE=$_contract_node
# Where KubeDind's core mounts the engine's layer store (kubedind-layers), when it is on.
KUBEDIND_LAYER_STORE=${KUBEDIND_LAYER_STORE:-$_contract_layers}
KUBEDIND_REGISTRY_ROOT=${KUBEDIND_REGISTRY_ROOT:-/var/lib/registry}

log() { echo "$(date -u +%H:%M:%S.%3N) kubedind: $*"; }
warn() { echo "$(date -u +%H:%M:%S.%3N) kubedind: warning: $*" >&2; }

# The last lines of a component's log, indented, for failure messages.
log_tail() { if [ -f "$KUBEDIND_LOGS/$1.log" ]; then tail -n "${2:-20}" "$KUBEDIND_LOGS/$1.log" | sed 's/^/    | /' >&2; fi; }

# wait_for SECONDS COMMAND...: runs COMMAND every 0.25 s until it succeeds; false after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.25
  done
}

# True when this container may lower oom_score_adj (CAP_SYS_RESOURCE, bit 24, is effective).
has_cap_sys_resource() {
  local capeff
  capeff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
  (( (0x$capeff >> 24) & 1 ))
}

# Kubernetes runs when the image has k3s and KUBEDIND_KUBERNETES is not false.
kubernetes_wanted() {
  case "${KUBEDIND_KUBERNETES:-auto}" in
    false | no | 0) return 1 ;;
    *) [ -x "$KUBEDIND_K3S" ] ;;
  esac
}

# The engine's /_ping through curl: a docker CLI call costs several times the CPU, and this is polled while k3s starts.
docker_answers() { curl -fsS -m 5 --unix-socket /var/run/docker.sock -o /dev/null http://docker/_ping; }
registry_answers() { curl -fsS -m 3 -o /dev/null http://127.0.0.1:5000/v2/; }

# kube_api METHOD PATH [CURL OPTION...]: calls the k3s API as its admin and prints the body; false unless it
# answers 2xx. curl, not kubectl: a kubectl run starts the whole k3s binary (a few hundred ms of CPU), and these
# calls run in polling loops and in the image's HEALTHCHECK while k3s itself is starting.
kube_api() {
  local method=$1 path=$2 tls=/var/lib/rancher/k3s/server/tls
  shift 2
  curl -sS -m 5 -X "$method" --fail-with-body --cacert "$tls/server-ca.crt" --cert "$tls/client-admin.crt" --key "$tls/client-admin.key" \
    "$@" "https://127.0.0.1:6443$path"
}

kube_api_get() { kube_api GET "$1"; }

# kube_api_follow PATH COMMAND...: runs COMMAND with the API's watch events of PATH (one JSON a line) on its stdin, and
# again, on a new watch, each time the API ends one (every 300 s, or when it restarts); a new watch begins with every
# object there is, so nothing changed in between is missed. Runs until killed.
kube_api_follow() {
  local path=$1
  shift
  while true; do
    kube_api GET "$path?watch=true&timeoutSeconds=300" -N -m 330 2>/dev/null | "$@" || true
    sleep 1
  done
}

# kube_api_apply PATH: server-side apply of the object on stdin (YAML) at PATH, owned by the field manager kubedind.
kube_api_apply() {
  kube_api PATCH "$1?fieldManager=kubedind&force=true" -H 'Content-Type: application/apply-patch+yaml' --data-binary @- >/dev/null
}

# status_write JQ_FILTER [JQ OPTION...]: applies JQ_FILTER to the status document (a new one when there is none) and
# replaces it through a rename, so that a reader (kubedind-ready, the core's exec) never sees it half-written.
# The document (schemaVersion 1):
#   {schemaVersion, role: server|agent, kubernetes: bool, k3sVersion: "v1.33.7+k3s1"|null,
#    state: {phase: starting|running|failed|stopping, component: <name>|null, reason: <text>|null},
#    components: [{role, implementation, fallback: bool, turnedOffByUser: bool, detail, pods: [<name prefix>]}]}
status_write() {
  local filter=$1 current
  shift
  current=$(cat "$KUBEDIND_STATUS" 2>/dev/null) || current='{}'
  jq -c "$@" --argjson schema "$KUBEDIND_STATUS_SCHEMA" '.schemaVersion = $schema | '"$filter" <<< "$current" > "$KUBEDIND_STATUS.$$.tmp" \
    && mv "$KUBEDIND_STATUS.$$.tmp" "$KUBEDIND_STATUS"
}

# status_init KUBERNETES: a new document for this start: role, Kubernetes on (true) or off (false), the k3s version the
# image build recorded, state starting, no components yet.
status_init() {
  local version
  version=$(cat "$KUBEDIND_K3S_VERSION_FILE" 2>/dev/null || true)
  rm -f "$KUBEDIND_STATUS"
  # shellcheck disable=SC2016 # jq's variables, not the shell's
  status_write '{schemaVersion: $schema, role: $role, kubernetes: ($kubernetes == "true"),
    k3sVersion: (if $version == "" or $version == "none" then null else $version end),
    state: {phase: "starting", component: "entrypoint", reason: null}, components: []}' \
    --arg role "$(node_role)" --arg kubernetes "$1" --arg version "$version"
}

# status_state PHASE [COMPONENT [REASON]]: the container's state (starting dockerd, running, failed k3s: why, stopping).
status_state() {
  # shellcheck disable=SC2016 # jq's variables, not the shell's
  status_write '.state = {phase: $phase, component: (if $component == "" then null else $component end),
    reason: (if $reason == "" then null else $reason end)}' --arg phase "$1" --arg component "${2:-}" --arg reason "${3:-}"
}

# status_components: sets the document's components from lines on stdin, tab-separated: role, implementation, fallback
# (true/false), detail, pods (space-separated name prefixes), turned off by the user (true/false).
status_components() {
  local lines
  lines=$(cat)
  # shellcheck disable=SC2016 # jq's variables, not the shell's
  status_write '.components = ($lines | split("\n") | map(select(length > 0) | split("\t")
    | {role: .[0], implementation: .[1], fallback: (.[2] == "true"), turnedOffByUser: (.[5] == "true"), detail: .[3],
       pods: (.[4] | split(" ") | map(select(length > 0)))}))' --arg lines "$lines"
}

# status_read JQ_FILTER: prints JQ_FILTER applied to the status document (raw); nothing when there is none yet.
status_read() { jq -r "$1" "$KUBEDIND_STATUS" 2>/dev/null || true; }

# fail REASON: records why the running component failed (the entrypoint prints it) and returns false.
fail() { KUBEDIND_REASON="$*"; return 1; }

# stop_process NAME PID DEADLINE: SIGTERM, then SIGKILL when PID still runs at DEADLINE (a $SECONDS value).
stop_process() {
  local name=$1 pid=$2 deadline=$3
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      warn "$name did not stop in time; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  log "$name stopped"
}

# The node's role in a multi-node cluster: server (the default, and the only node of a single-node cluster) or agent.
node_role() { echo "${KUBEDIND_ROLE:-server}"; }

# node_subnet CIDR INDEX: the INDEXth /24 of the pod network CIDR (IPv4, prefix at most 24), e.g.
# 10.42.0.0/16 2 -> 10.42.2.0/24: node INDEX's pod subnet in a multi-node cluster. Fails when CIDR has no such /24.
node_subnet() {
  local a b c d prefix=${1#*/} base
  IFS=. read -r a b c d <<< "${1%/*}"
  if [ "$prefix" -gt 24 ] || [ "$2" -ge $((1 << (24 - prefix))) ]; then return 1; fi
  base=$(( ((a << 24) | (b << 16) | (c << 8) | d) + ($2 << 8) ))
  echo "$(( (base >> 24) & 255 )).$(( (base >> 16) & 255 )).$(( (base >> 8) & 255 )).0/24"
}
