#!/usr/bin/env bash
# One-stop, idempotent bootstrap of a cnilib checkout on Debian (run as root, or with sudo).
#
#   .ci/setup.sh            # what .ci/demo.sh and .ci/test.sh call first
#
# It installs only what is missing, so a second run takes a few seconds:
#   1. Debian packages: the CNI plugins and the tools the integration tests use (iproute2,
#      iptables, ping, dnsmasq), Go with Debian's libcni and go-cni sources (the Go reference
#      programs in tests/helpers/), python3-venv,
#      and python3-doc (Python's Sphinx inventory, read offline by the docs build).
#   2. .venv/ (python3 -m venv) with cnilib installed editable and every tool the suite runs
#      (the dependency groups of pyproject.toml: pytest, hypothesis, packaging, ruff, mypy,
#      sphinx, myst, plus tox). Re-done only when pyproject.toml or this script changes.
#   3. The Go reference program (tests/helpers/goref) as .venv/bin/goref; rebuilt only when its
#      source is newer.
#   5. The no-op plugin of the overhead benchmark (tests/helpers/noop) as .venv/bin/noop.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'setup.sh: error: %s\n' "$*" >&2; exit 1; }

# -- 1. Debian packages --------------------------------------------------------------------------
DEBS=(
    containernetworking-plugins iproute2 iptables iputils-ping
    golang-go golang-github-appc-cni-dev golang-github-containerd-go-cni-dev
    python3 python3-venv python3-doc
    dnsmasq-base  # the dhcp plugin's conformance test serves DHCP with it (no system service)
)
missing=()
for pkg in "${DEBS[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "not Debian (no apt-get); install by hand: ${missing[*]}"
    SUDO=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null || die "run as root to install: ${missing[*]}"
        SUDO=(sudo)
    fi
    say "installing Debian packages: ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# -- 2. The virtual environment -----------------------------------------------------------------
PY="${CNILIB_PYTHON:-python3}"
command -v "$PY" >/dev/null || die "$PY not found"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "cnilib needs Python >= 3.11; $PY is $("$PY" -V 2>&1)"

VENV="$ROOT/.venv"
if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    say "creating $VENV"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi

STAMP="$VENV/.cnilib-setup"
want="$(cat pyproject.toml .ci/setup.sh | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]] \
        || ! "$VENV/bin/python" -c 'import cnilib, pytest, sphinx, mypy' 2>/dev/null; then
    say "installing cnilib (editable) and the test tools into $VENV"
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    # pip >= 25.1 reads [dependency-groups] (--group); Debian's venv pip is older.
    "$VENV/bin/python" -m pip install -q --upgrade 'pip>=25.1'
    "$VENV/bin/python" -m pip install -q \
        --group tests --group lint --group typing --group docs 'tox>=4.22'
    "$VENV/bin/python" -m pip install -q --editable .
    echo "$want" >"$STAMP"
fi

# -- 3. The Go reference program ----------------------------------------------------------------
# tests/helpers/goref (Go libcni doing what cnilib does, for the differential tests and the
# benchmarks) as .venv/bin/goref, rebuilt whenever a source file is newer than the binary.
# Debian's libcni sources live in /usr/share/gocode (GOPATH mode, no module download). The
# build cache goes under build/ so that a read-only $HOME (or none) is no problem.
GOREF_SRC="$ROOT/tests/helpers/goref"
GOREF_BIN="$VENV/bin/goref"
if [[ ! -x "$GOREF_BIN" ]] \
        || [[ -n "$(find "$GOREF_SRC" -name '*.go' -newer "$GOREF_BIN" -print -quit)" ]]; then
    say "building the Go reference program into $GOREF_BIN"
    (cd "$ROOT" && GOPATH=/usr/share/gocode GO111MODULE=off \
        GOCACHE="${GOCACHE:-$ROOT/build/go-cache}" \
        go build -o "$GOREF_BIN" ./tests/helpers/goref)
fi

# -- 4. The go-cni reference program (tests/helpers/gocniref) ---------------------------------
# containerd's go-cni from Debian's sources, for tests/benchmarks/bench_networks.py; rebuilt
# only when its source is newer.
GOCNIREF_BIN="$VENV/bin/gocniref"
if [[ ! -x "$GOCNIREF_BIN" ]] || [[ "$ROOT/tests/helpers/gocniref/main.go" -nt "$GOCNIREF_BIN" ]]; then
    say "building the go-cni reference program into $GOCNIREF_BIN"
    (cd "$ROOT" && GOPATH=/usr/share/gocode GO111MODULE=off \
        GOCACHE="${GOCACHE:-$ROOT/build/go-cache}" go build -o "$GOCNIREF_BIN" ./tests/helpers/gocniref)
fi

# -- 5. The no-op plugin of the overhead benchmark ---------------------------------------------
# tests/helpers/noop: standard library only, static, so that it starts as fast as a plugin can.
NOOP_SRC="$ROOT/tests/helpers/noop"
if [[ ! -x "$VENV/bin/noop" ]] \
        || [[ -n "$(find "$NOOP_SRC" -newer "$VENV/bin/noop" -name '*.go' -print -quit)" ]]; then
    say "building the no-op plugin into $VENV/bin/noop"
    (cd "$ROOT" && CGO_ENABLED=0 GO111MODULE=off GOCACHE="${GOCACHE:-$ROOT/build/go-cache}" \
        go build -trimpath -ldflags="-s -w" -o "$VENV/bin/noop" ./tests/helpers/noop)
fi

say "setup done: $VENV"
