#!/usr/bin/env bash
# ensure-package.sh COMMAND PACKAGE: makes sure COMMAND is on PATH, installing Debian's PACKAGE (as root, through
# apt-get) when it is missing. Anything it cannot do is one line naming the package and what to run.
set -euo pipefail
command_name=${1:?usage: ensure-package.sh COMMAND PACKAGE}
package=${2:?usage: ensure-package.sh COMMAND PACKAGE}

command -v "$command_name" >/dev/null 2>&1 && exit 0
fail() { echo "error: $command_name is missing and $*; run: apt-get install -y $package" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || fail "this build is not root, so it cannot install $package"
command -v apt-get >/dev/null || fail "this host has no apt-get"

echo "$command_name is missing; installing Debian's $package"
export DEBIAN_FRONTEND=noninteractive
# Another install (a CI step, unattended upgrades) may hold dpkg's lock: wait for it rather than fail.
apt_wait=(-o DPkg::Lock::Timeout=600)
apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends "$package" >/dev/null 2>&1 \
  || { apt-get "${apt_wait[@]}" update -qq >/dev/null 2>&1 && apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends "$package" >/dev/null 2>&1; } \
  || fail "apt-get could not install $package"
command -v "$command_name" >/dev/null 2>&1 || fail "installing $package did not provide it"
