#!/bin/sh
# make-image-tar.sh BINARY TAG OUTPUT: writes a `docker load`-able image tar holding one layer
# (BINARY as /pause) and a config whose Entrypoint is ["/pause"]. Plain sh + tar + sha256sum, so no
# registry and no docker are needed at build time.
# set -eu without pipefail: POSIX sh (dash) has none; a pipeline that fails here leaves an empty value, which the next step rejects.
set -eu
binary=$1 tag=$2 output=$3
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) arch=$(uname -m) ;;
esac

work=$(mktemp -d)
mkdir -p "$work/rootfs" "$work/image/layer"
cp "$binary" "$work/rootfs/pause"
chmod 0755 "$work/rootfs/pause"
tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$work/rootfs" -cf "$work/image/layer/layer.tar" pause
diff_id=$(sha256sum "$work/image/layer/layer.tar" | cut -d' ' -f1)
mv "$work/image/layer" "$work/image/$diff_id"

printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"kubedind pause"}]}' \
  "$arch" "$diff_id" > "$work/image/config.json"
config_id=$(sha256sum "$work/image/config.json" | cut -d' ' -f1)
mv "$work/image/config.json" "$work/image/$config_id.json"

printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$config_id" "$tag" "$diff_id" > "$work/image/manifest.json"

mkdir -p "$(dirname "$output")"
tar --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$work/image" -cf "$output" .
rm -rf "$work"
echo "pause image $tag: $(wc -c < "$output") bytes, layer sha256:$diff_id"
