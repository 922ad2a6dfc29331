#!/usr/bin/env bash
# Set everything up and start a node with the bundled en<->pt models on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/udn serve "$@"
