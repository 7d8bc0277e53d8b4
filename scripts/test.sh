#!/usr/bin/env bash
# The test command: install what is missing, then run the whole suite (CPU, offline).
# Real-model end-to-end tests are included (marker `slow`); GPU and Qdrant-server tests
# skip themselves with a reason when no GPU / no QDRANT_URL is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec python3 -m pytest tests "$@"
