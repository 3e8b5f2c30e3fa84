#!/bin/sh
# Build-time setup of the image (run once by the Dockerfile): k3s and kubectl on PATH when the image
# has k3s, otherwise a kubectl that explains compose mode.
set -eu
dist=/usr/local/lib/kubedind/k3s-dist
chmod 0755 /usr/local/bin/kubedind-* /usr/local/lib/kubedind/*.sh
if [ -x "$dist/k3s" ]; then
  ln -sf "$dist/k3s" /usr/local/bin/k3s
  ln -sf "$dist/k3s" /usr/local/bin/kubectl
  echo "kube-dind: k3s $(cat "$dist/version"), kubectl from k3s"
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
# Debian's registry unit config enables htpasswd auth; ours is /etc/kubedind/registry.yml.
mkdir -p /run/kubedind /var/log/kubedind /etc/kubedind
