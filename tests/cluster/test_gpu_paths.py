"""The GPU paths of benchmarks/gpu_check.py as tests: they skip, saying why, without a
CUDA GPU (and without vLLM / DeepSpeed). scripts/gpu_check.sh runs the same on a lent GPU."""
from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(),
                                 reason="no CUDA GPU here: run scripts/gpu_check.sh on a GPU machine")]


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm not installed ([gpu] extra)")
def test_vllm_planner_serves_two_adapters_and_hot_swaps(tmp_path):
    from benchmarks.gpu_check import vllm_hot_swap

    res = vllm_hot_swap(tmp_path)
    assert res["versions_before"] == {"a": "v1", "b": "v1"} and res["version_after_swap"] == "v2"


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None, reason="deepspeed not installed ([gpu] extra)")
def test_deepspeed_zero2_sdpo_step():
    from benchmarks.gpu_check import deepspeed_step

    assert deepspeed_step()["zero_stage"] == 2
