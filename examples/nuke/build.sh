#!/usr/bin/env bash
# The Nuke front end's example: ./build.sh --target SystemTest [--kubedind-k3s-binary PATH] [--kubedind-keep-cluster] [--kubedind-no-mirror]
# Needs Nuke.Common 10.1.0 from a NuGet source; where it cannot be restored this says so and fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 NUKE_TELEMETRY_OPTOUT=1

if ! restore_output=$(dotnet restore build/_build.csproj -v q --nologo 2>&1); then
  if grep -q "NU1101" <<<"$restore_output"; then
    echo "examples/nuke: Nuke.Common 10.1.0 cannot be restored from the configured NuGet sources (NU1101); add a source that serves it to run this example." >&2
  else
    echo "examples/nuke: restoring the Nuke build failed: $(grep -m1 -i 'error' <<<"$restore_output")" >&2
  fi
  exit 1
fi

exec dotnet run --project build/_build.csproj --no-restore -- --root . "$@"
