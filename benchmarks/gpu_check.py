"""The GPU paths in one run, for a lent GPU machine (no downloads): prints one JSON line.

    bash scripts/gpu_check.sh            # wraps this with a time limit

1. vLLM planner engine with two users' LoRA adapters (real peft adapters on the offline
   SmolLM2 base), schema-guided replies for both, then a hot swap: user a's v2 is
   published and the next request is answered by v2.
2. One SDPO step under DeepSpeed ZeRO-2 (the Train worker's stepper) on a random-
   initialised small model of Qwen3 shape, bf16, one GPU.
Each part reports ok / error / seconds; the exit code is 0 only when both passed.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from nanoresearch import offline

def vllm_hot_swap(out: Path) -> dict[str, Any]:
    from benchmarks.hot_swap import make_adapter
    from nanoresearch.config import load_settings
    from serve.planner_log import PlannerLog
    from serve.planner_prompt import PlannerInput, build_messages, plan_schema
    from serve.planner_vllm import VLLMPlannerEngine
    from storage.adapters import AdapterRegistry
    from training.hf_model import ensure_base_model

    s = load_settings(overrides={"data_dir": str(out / "home")})
    base = ensure_base_model(s)
    reg = AdapterRegistry(s.adapters_dir)
    for user, seed in (("a", 1), ("b", 2)):
        reg.publish(user, make_adapter(base, out / f"{user}1", seed), base_model=base.name)
    eng = VLLMPlannerEngine(base, reg, PlannerLog(s.data_dir), gpu_memory_utilization=0.3,
                            max_model_len=2048, enforce_eager=True)
    inp = PlannerInput(stage="coding", task="train a logistic regression baseline", profile={},
                       skills=[], memories=[])
    ask = (lambda u: eng.generate(build_messages(inp), u, 64, schema=plan_schema(inp)))
    first = {u: ask(u) for u in ("a", "b")}
    json.loads(first["a"].text)  # schema-guided: valid JSON
    reg.publish("a", make_adapter(base, out / "a2", 3), parent_version=1, base_model=base.name)
    t0 = time.perf_counter()
    swapped = ask("a")
    return {"versions_before": {u: r.adapter_version for u, r in first.items()},
            "version_after_swap": swapped.adapter_version, "swap_and_reply_s": round(time.perf_counter() - t0, 3),
            "ok": swapped.adapter_version == "v2" and first["b"].adapter_version == "v1"}


def deepspeed_step() -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    from benchmarks.gpu_sdpo_step import qwen3_0_6b_config, random_example
    from training.ray_job import DeepSpeedSDPOTrainer, DeepSpeedStepper
    from training.sdpo_config import SDPOConfig
    from training.trainer import attach_lora

    for k, v in (("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29517"), ("RANK", "0"),
                 ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1")):
        os.environ.setdefault(k, v)  # one-process "cluster" for deepspeed.initialize
    cfg = SDPOConfig.gpu(batch_size=2, dtype="bfloat16")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(qwen3_0_6b_config(2), dtype=torch.bfloat16).to("cuda")
    tr = DeepSpeedSDPOTrainer("qwen3-shape-2l", cfg, model=model, device="cuda")
    peft_model = attach_lora(model, cfg)
    peft_model.train()
    stepper = tr.make_stepper(peft_model)
    batch = [random_example(model.config.vocab_size, 128, 16, 64, s) for s in range(2)]
    t0 = time.perf_counter()
    tr._step(peft_model, stepper, batch)
    torch.cuda.synchronize()
    zero = stepper.engine.zero_optimization_stage() if isinstance(stepper, DeepSpeedStepper) else None
    return {"zero_stage": zero, "step_s": round(time.perf_counter() - t0, 3), "ok": zero == 2}


def _part(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        res = fn()
    except Exception as e:  # noqa: BLE001 - reported in the JSON line, exit code says failed
        res = {"ok": False, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()[-1500:]}
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def main() -> int:
    offline.apply()  # process start: no model hub, no library progress bars
    import torch

    if not torch.cuda.is_available():
        print(json.dumps({"check": "gpu", "ok": False, "reason": "no CUDA GPU visible"}))
        return 2
    out = Path(tempfile.mkdtemp(prefix="nr-gpu-check-"))
    parts = {"vllm_hot_swap": _part(lambda: vllm_hot_swap(out)), "deepspeed_zero2_step": _part(deepspeed_step)}
    ok = all(p["ok"] for p in parts.values())
    print(json.dumps({"check": "gpu", "device": torch.cuda.get_device_name(), "ok": ok, **parts}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
