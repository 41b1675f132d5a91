#!/usr/bin/env bash
# Installs what the end-to-end tests (crate agentos-e2e) need beyond Rust, on a fresh Debian
# machine that has CPython 3.11 and pip. Idempotent: run it as often as you like.
#
# The Python packages of e2e/python/requirements.txt (the iii-sdk the Python worker uses) go
# into a virtualenv at <repo>/.venv (git-ignored). The e2e tests run <repo>/.venv/bin/python
# unless AGENTOS_E2E_PYTHON names another interpreter.
#
# Where Debian's python3 cannot make a venv with pip (no python3-venv package, so no ensurepip),
# the venv is made --without-pip and filled by the outer pip through `pip --python` (pip >= 22.3),
# which also sidesteps a system Python marked externally managed (PEP 668).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

# A venv whose interpreter no longer runs (moved, or made by a removed Python) is rebuilt.
if [ -e "$VENV" ] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "install-test-deps: $VENV is broken, recreating it" >&2
    rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        "$PY" -m venv --without-pip "$VENV"
    fi
fi

REQS="$ROOT/e2e/python/requirements.txt"
if "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
else
    "$PY" -m pip --python "$VENV/bin/python" install --quiet --disable-pip-version-check -r "$REQS"
fi

echo "install-test-deps: $("$VENV/bin/python" -c 'import importlib.metadata as m; print("iii-sdk", m.version("iii-sdk"))') in $VENV"
