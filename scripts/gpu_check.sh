#!/usr/bin/env bash
# The GPU paths on a lent GPU machine, offline, in under 8 minutes; prints one JSON line
# (benchmarks/gpu_check.py): vLLM planner with two LoRA adapters + hot swap, and a
# DeepSpeed ZeRO-2 SDPO step on a random-initialised small model. Needs the [gpu] extra.
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_NO_USAGE_STATS=1 TOKENIZERS_PARALLELISM=false
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
timeout 470 python3 -m benchmarks.gpu_check 2> "${TMPDIR:-/tmp}/gpu_check.stderr"
rc=$?
if [ "$rc" -eq 124 ]; then
  echo '{"check": "gpu", "ok": false, "reason": "timed out after 470 s"}'
fi
exit "$rc"
