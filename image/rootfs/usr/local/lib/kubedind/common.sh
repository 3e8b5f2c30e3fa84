# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this file
# Shared by the entrypoint, the component scripts and kubedind-ready: paths, logging, small helpers.
# Sourced, never run: the sourcing script sets the shell options (set -euo pipefail, or why not).
KUBEDIND_LIB=/usr/local/lib/kubedind
KUBEDIND_LOGS=/var/log/kubedind
KUBEDIND_STATE=/run/kubedind
KUBEDIND_PAUSE_IMAGE=kubedind/pause:3.10
KUBEDIND_KUBECONFIG=/etc/kubedind/kubeconfig.yaml
KUBEDIND_K3S=/usr/local/bin/k3s

log() { echo "$(date -u +%H:%M:%S) kubedind: $*"; }
warn() { echo "$(date -u +%H:%M:%S) kubedind: warning: $*" >&2; }

# The last lines of a component's log, indented, for failure messages.
log_tail() { if [ -f "$KUBEDIND_LOGS/$1.log" ]; then tail -n "${2:-20}" "$KUBEDIND_LOGS/$1.log" | sed 's/^/    | /' >&2; fi; }

# wait_for SECONDS COMMAND...: runs COMMAND every 0.5 s until it succeeds; false after SECONDS.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
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

docker_answers() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
registry_answers() { curl -fsS -m 3 -o /dev/null http://127.0.0.1:5000/v2/; }

# kube_api_get PATH: GET PATH from the k3s API as its admin (curl: cheaper than kubectl in a polling loop).
kube_api_get() {
  local tls=/var/lib/rancher/k3s/server/tls
  curl -fsS -m 5 --cacert "$tls/server-ca.crt" --cert "$tls/client-admin.crt" --key "$tls/client-admin.key" "https://127.0.0.1:6443$1"
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
