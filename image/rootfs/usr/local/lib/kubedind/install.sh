#!/bin/sh
# Build-time setup of the image (run once by the Dockerfile): k3s, kubectl, crictl and ctr on PATH when
# the image has k3s, otherwise a kubectl that explains compose mode.
# set -eu without pipefail: POSIX sh (dash) has none; a pipeline that fails here leaves an empty value, which the next step rejects.
set -eu
dist=/usr/local/lib/kubedind/k3s-dist
chmod 0755 /usr/local/bin/kubedind-* /usr/local/lib/kubedind/*.sh
if [ -x "$dist/k3s" ]; then
  ln -sf "$dist/k3s" /usr/local/bin/k3s
  # k3s answers as kubectl, crictl, ctr and containerd through argv[0] (a server binary built alone has no
  # `k3s kubectl` subcommand), so these are symlinks; $dist/bin goes first on k3s's PATH for containerd.
  mkdir -p "$dist/bin"
  for tool in kubectl crictl ctr containerd; do
    ln -sf ../k3s "$dist/bin/$tool"
  done
  ln -sf "$dist/bin/crictl" /usr/local/bin/crictl
  ln -sf "$dist/bin/ctr" /usr/local/bin/ctr
  # A wrapper, not a symlink: a container started in compose mode says so instead of failing to connect.
  cat > /usr/local/bin/kubectl <<'WRAPPER'
#!/bin/sh
if [ "${KUBEDIND_KUBERNETES:-auto}" = false ]; then
  echo "kubectl: Kubernetes is off in this container (compose mode: KUBEDIND_KUBERNETES=false)" >&2
  exit 1
fi
exec /usr/local/lib/kubedind/k3s-dist/bin/kubectl "$@"
WRAPPER
  chmod 0755 /usr/local/bin/kubectl
  echo "kube-dind: k3s $(cat "$dist/version"); kubectl, crictl, ctr from k3s"
else
  cat > /usr/local/bin/kubectl <<'STUB'
#!/bin/sh
echo "kubectl: no Kubernetes in this image (compose mode); build it with a k3s binary to get one" >&2
exit 1
STUB
  chmod 0755 /usr/local/bin/kubectl
  echo "kube-dind: no k3s (compose mode: dockerd + registry + docker-compose)"
fi
rm -f /usr/local/share/kubedind/airgap/Dockerfile
# Without flannel, k3s leaves the CNI plugin directory at the default /opt/cni/bin: Debian's plugins.
mkdir -p /opt/cni && ln -sfn /usr/lib/cni /opt/cni/bin
# Debian's registry unit config enables htpasswd auth; ours is /etc/kubedind/registry.yml.
mkdir -p /run/kubedind /var/log/kubedind /etc/kubedind /etc/rancher/k3s
