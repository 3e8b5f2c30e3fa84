# shellcheck shell=bash disable=SC2153 # KUBEDIND_* come from common.sh, sourced first by the entrypoint
# registry: distribution (Debian's docker-registry) on :5000, storage on the /var/lib/registry volume,
# no authentication (Debian's packaged config turns htpasswd on: /etc/kubedind/registry.yml does not),
# deletes enabled so tests can clean up after themselves.
# Sourced by the entrypoint (its shell options apply; start functions report failure by return code).

# registry_launch / registry_start: as dockerd_launch / dockerd_start.
registry_launch() {
  mkdir -p "$KUBEDIND_LOGS" /var/lib/registry
  docker-registry serve /etc/kubedind/registry.yml >"$KUBEDIND_LOGS/registry.log" 2>&1 &
  REGISTRY_PID=$!
  echo "$REGISTRY_PID" > "$KUBEDIND_STATE/registry.pid"
}

registry_start() {
  [ -n "${REGISTRY_PID:-}" ] || registry_launch
  if ! wait_for 30 registry_up; then
    log_tail registry
    fail "the registry did not answer /v2/ on :5000 within 30 s: $(tail -n1 "$KUBEDIND_LOGS/registry.log" | cut -c1-300)"
    return 1
  fi
  log "registry: answers on :5000 (storage /var/lib/registry, no auth, deletes enabled)"
}

registry_up() { kill -0 "$REGISTRY_PID" 2>/dev/null && registry_answers; }

registry_stop() {
  local pid
  pid=$(cat "$KUBEDIND_STATE/registry.pid" 2>/dev/null) || return 0
  stop_process registry "$pid" "$1"
}
