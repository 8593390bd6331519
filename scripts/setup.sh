#!/usr/bin/env bash
# Create .venv and install carseg with everything the demo, training and tests need.
# Safe to run again: it installs only when requirements.txt or pyproject.toml changed since its last
# successful run (recorded in .venv/.carseg-setup), and shows pip's output only if pip fails.
set -euo pipefail
cd "$(dirname "$0")/.."

STAMP=.venv/.carseg-setup
wanted="$(cat requirements.txt pyproject.toml | cksum)"
if [ -x .venv/bin/python ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$wanted" ]; then
    exit 0
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 13)))'; then
    echo "carseg needs Python 3.10-3.13 (TensorFlow 2.21); $PYTHON is $("$PYTHON" --version 2>&1)." >&2
    echo "Set PYTHON=/path/to/python3.11 and run again." >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
echo "Installing carseg and its requirements into .venv (first run, or requirements.txt / pyproject.toml changed)..."
LOG=.venv/setup.log
if ! {
    .venv/bin/python -m pip install --quiet --upgrade pip &&
        .venv/bin/python -m pip install --quiet -r requirements.txt &&
        .venv/bin/python -m pip install --quiet --no-deps -e .
} >"$LOG" 2>&1; then
    cat "$LOG" >&2
    echo "Installing into .venv failed (pip's output above, also in $LOG)." >&2
    exit 1
fi
echo "$wanted" >"$STAMP"
