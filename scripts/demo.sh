#!/usr/bin/env bash
# Set up, then serve the Gradio demo with the bundled model on http://127.0.0.1:7860.
# Extra arguments go to space/app.py (e.g. --port 8080, --share).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/python space/app.py "$@"
