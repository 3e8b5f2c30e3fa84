#!/usr/bin/env bash
# Makes sure a Docker engine answers. An engine that already answers is never touched;
# otherwise, as root on a Debian-family host, installs Debian's docker.io and starts dockerd
# in the background (log and pid under artifacts/). Anywhere else: one line saying what to do.
set -euo pipefail

root_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
log_dir="${root_dir}/artifacts/dockerd"
timeout_s="${KUBEDIND_DOCKERD_TIMEOUT:-90}"

engine_answers() {
  if [[ -n "${DOCKER_HOST:-}" ]]; then
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1
  else
    curl -fsS --max-time 5 --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1
  fi
}

fail() { echo "error: $*" >&2; exit 1; }

if engine_answers; then
  echo "docker: engine already answers; leaving it as it is"
  exit 0
fi

[[ -n "${DOCKER_HOST:-}" ]] && fail "DOCKER_HOST=${DOCKER_HOST} does not answer; start that engine or unset DOCKER_HOST"
[[ "$(id -u)" == 0 ]] || fail "no Docker engine answers on /var/run/docker.sock and this build is not root; start Docker (or run as root on Debian/Ubuntu so the build can install docker.io)"
command -v apt-get >/dev/null || fail "no Docker engine answers and this host has no apt-get; install and start Docker, then run the build again"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  echo "docker: installing ${need[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  # Another install (a CI step, unattended upgrades) may hold dpkg's lock: wait for it rather than fail.
  apt_wait=(-o DPkg::Lock::Timeout=600)
  apt-get "${apt_wait[@]}" update -qq >/dev/null || fail "apt-get update failed; check the host's apt sources"
  apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || fail "apt-get install ${need[*]} failed; install Docker by hand and run the build again"
fi

mkdir -p "$log_dir"
if [[ -f "$log_dir/dockerd.pid" ]] && kill -0 "$(cat "$log_dir/dockerd.pid")" 2>/dev/null; then
  echo "docker: dockerd (pid $(cat "$log_dir/dockerd.pid")) is starting; waiting for it"
else
  echo "docker: starting dockerd in the background (log: artifacts/dockerd/dockerd.log)"
  # setsid so the daemon outlives this build and keeps the mirror up between builds.
  setsid nohup dockerd >"$log_dir/dockerd.log" 2>&1 < /dev/null &
  echo $! > "$log_dir/dockerd.pid"
fi

for ((i = 0; i < timeout_s; i++)); do
  if engine_answers; then
    echo "docker: engine answers after ${i}s ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
    exit 0
  fi
  kill -0 "$(cat "$log_dir/dockerd.pid")" 2>/dev/null || { tail -n 5 "$log_dir/dockerd.log" >&2; fail "dockerd exited while starting; see artifacts/dockerd/dockerd.log"; }
  sleep 1
done
tail -n 5 "$log_dir/dockerd.log" >&2
fail "dockerd did not answer within ${timeout_s}s; see artifacts/dockerd/dockerd.log"
