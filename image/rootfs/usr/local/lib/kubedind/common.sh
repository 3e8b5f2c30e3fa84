# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this file
# Shared by the entrypoint, the component scripts and kubedind-ready: paths, logging, small helpers.
# Sourced, never run: the sourcing script sets the shell options (set -euo pipefail, or why not).
KUBEDIND_LIB=/usr/local/lib/kubedind
KUBEDIND_LOGS=/var/log/kubedind
KUBEDIND_STATE=/run/kubedind
KUBEDIND_PAUSE_IMAGE=kubedind/pause:3.10
KUBEDIND_KUBECONFIG=/etc/kubedind/kubeconfig.yaml
KUBEDIND_K3S=/usr/local/bin/k3s
# The server's node name (k3s --node-name): agents of a multi-node cluster are named by KubeDind's core.
KUBEDIND_SERVER_NODE=kubedind

log() { echo "$(date -u +%H:%M:%S) kubedind: $*"; }
warn() { echo "$(date -u +%H:%M:%S) kubedind: warning: $*" >&2; }

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

# kube_api_apply PATH: server-side apply of the object on stdin (YAML) at PATH, owned by the field manager kubedind.
kube_api_apply() {
  kube_api PATCH "$1?fieldManager=kubedind&force=true" -H 'Content-Type: application/apply-patch+yaml' --data-binary @- >/dev/null
}

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
