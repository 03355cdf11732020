#!/usr/bin/env bash
# The main job, from a bare Debian machine: set-up, then cnilib on the bundled examples.
#
#   .ci/demo.sh                 # validate examples/, then (as root) the namespace demo
#   .ci/demo.sh validate DIR    # any other `cnilib` command line instead
#
# The namespace demo attaches examples/10-cnilib-demo.conflist to a scratch network namespace,
# shows the result, CHECKs, pings the gateway, DELs, and removes everything it made.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash "$ROOT/.ci/setup.sh"
PY="$ROOT/.venv/bin/python"

if (($#)); then
    exec "$PY" -m cnilib "$@"
fi

echo "== cnilib validate examples/"
"$PY" -m cnilib validate examples/
if [[ "$(id -u)" == 0 ]]; then
    echo "== cnilib demo (network namespace, Debian's plugins in /usr/lib/cni)"
    CNI_PATH="${CNI_PATH:-/usr/lib/cni}" "$PY" -m cnilib demo
else
    echo "== skipping the namespace demo: it needs root (run: sudo $0)" >&2
fi
