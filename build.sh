#!/usr/bin/env bash
# KubeDind's build: restores the pinned Cake tool and runs build/build.cake with every argument.
#   ./build.sh --target=Test         the tests (ends with "N passed, N failed, N skipped")
#   ./build.sh --target=SystemTest   the examples end to end on a real cluster
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet tool restore >/dev/null

totals=artifacts/test-results/totals.txt
rm -f "$totals"
status=0
dotnet dotnet-cake build/build.cake "$@" || status=$?

# Cake prints its task summary after the last task; the test totals belong on the last line.
if [[ -f "$totals" ]]; then
  cat "$totals"
fi
exit "$status"
