#!/usr/bin/env bash
# The whole test suite, from a bare Debian machine: set-up, then every check CI runs.
#
#   .ci/test.sh                      # everything (root: the netns integration tests too)
#   .ci/test.sh tests/test_api.py -x # extra arguments go to pytest
#
# Steps, all from .venv (.ci/setup.sh makes it): the test suite against the built wheel
# (tox env py311), ruff, mypy --strict, and the Sphinx docs with warnings as errors. Every step
# runs even when one fails; the exit status is non-zero if any failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash "$ROOT/.ci/setup.sh"

export PATH="$ROOT/.venv/bin:$PATH"
if [[ -x "$ROOT/.venv/bin/goref" ]]; then
    export GOREF="$ROOT/.venv/bin/goref"
fi
# CI: derandomised Hypothesis so that a red run reproduces (tests/conftest.py).
if [[ "${CI:-}" == "true" ]]; then
    export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"
fi

status=0
tox run -e py311 -- "$@" || status=1
tox run -e lint,mypy,docs || status=1
if ((status)); then
    echo ".ci/test.sh: FAILED (see above)" >&2
else
    echo ".ci/test.sh: all checks passed" >&2
fi
exit "$status"
