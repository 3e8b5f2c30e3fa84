#!/bin/sh
# fetch-k3s.sh         (k3s stage) puts the k3s binary into /out/k3s from K3S_SOURCE:
#   none     nothing (compose mode; /out/version says "none")
#   context  the `k3s` file in the build context: a given binary, or the release KubeDind's core downloaded and
#            verified (the download happens in the core, so its host cache serves every later build)
# fetch-k3s.sh check DIR   (final stage) runs DIR/k3s --version and writes DIR/version. It runs in the final
#   image, not the k3s stage, so that a dynamically linked k3s finds the libraries the image has (libsqlite3,
#   for one), and one whose libraries are missing fails with the loader's own words.
# Every failure is one line starting with "kubedind: ".
# set -eu without pipefail: POSIX sh (dash) has none; a pipeline that fails here leaves an empty value, which the next step rejects.
set -eu
fail() { echo "kubedind: $*" >&2; exit 1; }

if [ "${1:-}" = check ]; then
  dir=${2:?usage: fetch-k3s.sh check DIR}
  [ -f "$dir/k3s" ] || { [ -f "$dir/version" ] || echo none > "$dir/version"; exit 0; }
  version_line=$("$dir/k3s" --version 2>&1 | head -n1) || version_line=
  case "$version_line" in
    *"error while loading shared libraries"*)
      fail "the supplied k3s is dynamically linked and this image lacks a library it needs: ${version_line#"$dir/"}; supply a statically linked k3s (the release binaries are) or one built against Debian bookworm's libraries" ;;
  esac
  version=$(echo "$version_line" | sed -n 's/^k3s version \(v[^ ]*\).*/\1/p')
  [ -n "$version" ] || fail "the supplied file is not an executable k3s for $(uname -m) (\`k3s --version\` printed '${version_line:-nothing}'); supply a k3s v1.21+ binary for this architecture"
  minor=$(echo "$version" | sed -n 's/^v1\.\([0-9]*\)\..*/\1/p')
  { [ -n "$minor" ] && [ "$minor" -ge 21 ]; } || fail "k3s $version is too old; KubeDind needs k3s v1.21 or newer"
  echo "$version" > "$dir/version"
  echo "kubedind: k3s $version"
  exit 0
fi

mkdir -p /out

case "${K3S_SOURCE:-none}" in
  none)
    echo none > /out/version
    echo "kubedind: no k3s in this image (compose mode: dockerd + registry + docker-compose)"
    exit 0
    ;;
  context)
    [ -f /k3s-context/k3s ] || fail "K3S_SOURCE=context but the build context holds no file named k3s; add the k3s binary or build with K3S_SOURCE=none"
    cp /k3s-context/k3s /out/k3s
    ;;
  *)
    fail "K3S_SOURCE='${K3S_SOURCE}' is not one of none, context (KubeDind's core downloads k3s and passes it as the context file k3s)"
    ;;
esac

chmod 0755 /out/k3s
