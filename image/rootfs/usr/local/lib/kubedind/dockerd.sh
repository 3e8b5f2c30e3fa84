# shellcheck shell=bash disable=SC2153 # KUBEDIND_* come from common.sh, sourced first by the entrypoint
# dockerd: the inner Docker engine, for `docker run`, `docker build` and docker-compose inside the
# container (pods run on k3s's containerd). Storage on the /var/lib/docker volume (overlay2), the
# registry mirrors from KUBEDIND_REGISTRY_MIRRORS (docker.io), localhost:5000 without TLS, and extra API
# addresses from KUBEDIND_DOCKERD_HOSTS (tcp://0.0.0.0:2375: the container as a remote engine, like docker:dind).
# Sourced by the entrypoint (its shell options apply; start functions report failure by return code).

# dockerd_launch: starts the process without waiting for it (the entrypoint launches it before k3s's preparation, so
# that the two start side by side); dockerd_start then waits until it answers, launching it first if nobody did.
dockerd_launch() {
  iptables_choose_backend || return 1
  dockerd_write_config || return 1
  mkdir -p "$KUBEDIND_LOGS"
  dockerd >"$KUBEDIND_LOGS/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  echo "$DOCKERD_PID" > "$KUBEDIND_STATE/dockerd.pid"
}

dockerd_start() {
  [ -n "${DOCKERD_PID:-}" ] || dockerd_launch || return 1
  if ! wait_for 60 dockerd_up; then
    log_tail dockerd
    if kill -0 "$DOCKERD_PID" 2>/dev/null; then
      fail "dockerd did not answer on /var/run/docker.sock within 60 s (log: $KUBEDIND_LOGS/dockerd.log)"
    else
      fail "dockerd exited at start: $(grep -iE 'level=(fatal|error)|failed' "$KUBEDIND_LOGS/dockerd.log" | tail -n1 | cut -c1-300)"
    fi
    return 1
  fi
  log "dockerd: $(docker info --format '{{.ServerVersion}} answers ({{.Driver}} storage, cgroup driver {{.CgroupDriver}})')"
}

dockerd_up() { kill -0 "$DOCKERD_PID" 2>/dev/null && docker_answers; }

# Debian's iptables is the nf_tables flavour; where the kernel lacks nf_tables fall back to legacy,
# before dockerd and kube-proxy write any rule (mixing the two breaks forwarding).
iptables_choose_backend() {
  if iptables-nft -w -L -n >/dev/null 2>&1; then
    update-alternatives --set iptables /usr/sbin/iptables-nft >/dev/null 2>&1 || true
  elif iptables-legacy -w -L -n >/dev/null 2>&1; then
    warn "dockerd: nf_tables is unavailable; using iptables-legacy"
    update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null 2>&1 || true
  else
    fail "neither iptables-nft nor iptables-legacy works ($(iptables-nft -L -n 2>&1 | head -n1)); the container needs CAP_NET_ADMIN"
    return 1
  fi
}

dockerd_write_config() {
  local mirrors="" insecure='"localhost:5000", "127.0.0.1:5000"' url hostport storage=overlay2
  local hosts_config="" hosts='"unix:///var/run/docker.sock"' address
  local IFS=','
  for url in ${KUBEDIND_REGISTRY_MIRRORS:-}; do
    url=$(echo "$url" | tr -d ' ')
    [ -n "$url" ] || continue
    case "$url" in
      http://* | https://*) ;;
      *) fail "KUBEDIND_REGISTRY_MIRRORS entry '$url' is not a URL; give mirrors as http://host:port, comma-separated"; return 1 ;;
    esac
    mirrors="$mirrors${mirrors:+, }\"$url\""
    hostport=${url#*://}; hostport=${hostport%%/*}
    # Mirrors served over plain HTTP (KubeDind's own) must be listed as insecure too.
    case "$url" in http://*) insecure="$insecure, \"$hostport\"" ;; esac
  done
  for address in ${KUBEDIND_DOCKERD_HOSTS:-}; do
    address=$(echo "$address" | tr -d ' ')
    [ -n "$address" ] || continue
    case "$address" in
      tcp://* | unix://*) ;;
      *) fail "KUBEDIND_DOCKERD_HOSTS entry '$address' is not tcp://host:port or unix:///path; give addresses comma-separated"; return 1 ;;
    esac
    hosts="$hosts, \"$address\""
  done
  unset IFS
  if [ -n "${KUBEDIND_DOCKERD_HOSTS:-}" ]; then
    # "tls": false said explicitly, as docker:dind does: newer dockerd delay their start on a plain tcp address otherwise.
    hosts_config=", \"hosts\": [${hosts}], \"tls\": false"
    warn "dockerd: also listening on ${KUBEDIND_DOCKERD_HOSTS} without TLS: anyone reaching that address controls this engine"
  fi

  if [ "$(stat -fc %T /var/lib/docker 2>/dev/null)" = overlayfs ]; then
    warn "dockerd: /var/lib/docker is not a volume (it is on overlayfs); using the slow vfs storage driver. Mount a volume there."
    storage=vfs
  fi

  mkdir -p /etc/docker
  cat > /etc/docker/daemon.json <<JSON
{
  "storage-driver": "$storage",
  "data-root": "/var/lib/docker",
  "registry-mirrors": [${mirrors}],
  "insecure-registries": [${insecure}],
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "shutdown-timeout": 3,
  "log-driver": "json-file",
  "log-opts": { "max-size": "10m", "max-file": "2" }${hosts_config}
}
JSON
  log "dockerd: mirrors [${mirrors}], insecure registries [${insecure}]"
}

dockerd_stop() {
  local pid
  pid=$(cat "$KUBEDIND_STATE/dockerd.pid" 2>/dev/null) || return 0
  stop_process dockerd "$pid" "$1"
}
