# shellcheck shell=bash disable=SC2153 # KUBEDIND_* come from common.sh, sourced first by the entrypoint
# cgroups: make the container's cgroups usable by an inner dockerd and kubelet, on cgroup v1 and v2.
# Docker mounts them read-only unless --privileged; with CAP_SYS_ADMIN in a private cgroup namespace
# (the fallback KubeDind uses where --privileged is refused) they can be remounted read-write.
# Sourced by the entrypoint (its shell options apply; start functions report failure by return code).

cgroups_start() {
  # Mount propagation for kubelet volume mounts, and writable /sys for bridges and conntrack: best effort.
  mount --make-rshared / 2>/dev/null || warn "cgroups: cannot make / rshared (kubelet mount propagation is limited)"
  if grep -qE '^sysfs /sys sysfs ro' /proc/mounts; then
    mount -o remount,rw /sys 2>/dev/null || warn "cgroups: /sys stays read-only"
  fi
  if [ ! -e /dev/kmsg ]; then
    ln -s /dev/console /dev/kmsg 2>/dev/null || true
  fi

  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    cgroups_v2
  else
    cgroups_v1
  fi
}

cgroups_v2() {
  log "cgroups: v2 (unified)"
  if grep -qE '^cgroup2 /sys/fs/cgroup cgroup2 ro' /proc/mounts; then
    mount -o remount,rw /sys/fs/cgroup || { fail "cgroup v2 at /sys/fs/cgroup is read-only and cannot be remounted (needs CAP_SYS_ADMIN and a private cgroup namespace)"; return 1; }
  fi
  # As Docker's own dind entrypoint: move every process out of the root into /init, so that the root
  # may delegate controllers to the child cgroups dockerd and kubelet create ("no internal processes").
  mkdir -p /sys/fs/cgroup/init
  local pid
  while read -r pid; do
    echo "$pid" > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || true
  done < /sys/fs/cgroup/cgroup.procs
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control \
    || fail "cannot enable cgroup v2 controllers ($(cat /sys/fs/cgroup/cgroup.controllers)) in /sys/fs/cgroup/cgroup.subtree_control"
}

cgroups_v1() {
  log "cgroups: v1"
  if grep -qE '^tmpfs /sys/fs/cgroup tmpfs ro' /proc/mounts; then
    mount -o remount,rw /sys/fs/cgroup 2>/dev/null || true
  fi
  local readonly_left="" mountpoint
  # Each controller hierarchy: remount the bind read-write (never bind the host's /sys/fs/cgroup).
  while read -r _ mountpoint fstype options _; do
    [ "$fstype" = cgroup ] || continue
    case ",$options," in *,ro,*) ;; *) continue ;; esac
    mount -o remount,bind,rw "$mountpoint" 2>/dev/null || readonly_left="$readonly_left ${mountpoint##*/}"
  done < /proc/mounts
  if [ -n "$readonly_left" ]; then
    fail "cgroup v1 hierarchies stay read-only:$readonly_left (run with --privileged, or CAP_SYS_ADMIN and --cgroupns=private)"; return 1
  fi
  # kubelet expects the systemd named hierarchy on v1 hosts; make one when the host has none.
  if [ ! -d /sys/fs/cgroup/systemd ]; then
    { mkdir -p /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd 2>/dev/null; } || true
  fi
}
