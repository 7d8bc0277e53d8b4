"""SDPO step cost and adapter hot-swap latency on the embedded planner (CPU).

    python -m benchmarks.sdpo                    # real SmolLM2-135M, 2 threads
    python -m benchmarks.sdpo --tiny --steps 3   # a tiny random Llama (smoke run)

Measures (1) seconds per SDPO optimizer step on one (x, y, o) triple against the floor
it cannot beat: one teacher forward plus one student forward/backward of exactly the
same token sequences with no loss or optimizer (target ratio <= 1.3); (2) hot swap:
seconds to load + verify + switch a new adapter version in the engine, and the latency
of the first request served by the new version after publish. Prints a table, then
ONE JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from nanoresearch import offline
from nanoresearch.config import load_settings
from nanoresearch.types import ChatMessage, PlannerCall
from serve.planner_engine import PlannerEngine
from storage.adapters import AdapterRegistry
from training.data import Triple
from training.hf_model import ensure_base_model
from training.sdpo_config import SDPOConfig
from training.trainer import SDPOTrainer, attach_lora

WORDS = ("load the data split it train a baseline evaluate the model report accuracy "
         "measure runtime and memory compare methods ablate the components").split()


def make_triple(prompt_words: int, completion_words: int) -> Triple:
    task = " ".join(WORDS[i % len(WORDS)] for i in range(prompt_words))
    plan = " ".join(WORDS[(3 * i) % len(WORDS)] for i in range(completion_words))
    call = PlannerCall(call_id="bench", user_id="bench", messages=[ChatMessage(role="user", content=task)],
                       output=plan)
    return Triple(call=call, feedback="always add an efficiency analysis step", feedback_id="f")


def timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def bench_step(base_dir: Path, cfg: SDPOConfig, triple: Triple, reps: int) -> dict:
    tr = SDPOTrainer(base_dir, cfg)
    ex = tr.build_examples([triple])[0]
    model = attach_lora(tr.base_model, cfg)
    model.train()
    stepper = tr.make_stepper(model)

    def floor() -> None:  # same tokens, same teacher mode, no loss maths, no optimizer
        tr.teacher_logits(model, ex)
        logits = model(input_ids=torch.tensor([ex.student_ids]), use_cache=False).logits
        logits.float().sum().backward()
        model.zero_grad(set_to_none=True)

    floor(), tr._step(model, stepper, [ex])  # warm-up (allocator, kernels)
    t_floor, t_step = [], []
    for _ in range(reps):  # interleaved, so machine load drifts affect both alike
        t_floor += timed(floor, 1)
        t_step += timed(lambda: tr._step(model, stepper, [ex]), 1)
    f, s = statistics.median(t_floor), statistics.median(t_step)
    return {"prompt_tokens": len(ex.student_ids) - ex.completion_len, "teacher_prompt_tokens": ex.teacher_start,
            "completion_tokens": ex.completion_len, "floor_s": f, "step_s": s, "ratio": s / f}


def bench_swap(base_dir: Path, cfg: SDPOConfig, swaps: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="bench-swap-"))
    reg = AdapterRegistry(root / "adapters")
    tr = SDPOTrainer(base_dir, cfg)
    srcs = []
    for i in range(2):
        torch.manual_seed(i)
        m = attach_lora(tr.base_model, cfg)
        m.save_pretrained(root / f"src{i}")
        tr.base_model = m.unload()
        srcs.append(root / f"src{i}")
    eng = PlannerEngine(base_dir, reg, model=tr.base_model, tokenizer=tr.tokenizer)
    msgs = [{"role": "user", "content": "Plan a study."}]
    base_req = statistics.median(timed(lambda: eng.generate(msgs, "nobody", max_tokens=1), 3))
    swap_s, first_req = [], []
    for i in range(swaps):
        rec = reg.publish("bench", srcs[i % 2])
        swap_s.append(eng.load_adapter("bench", rec.version))  # explicit, as the admin route does
        rec = reg.publish("bench", srcs[(i + 1) % 2])
        t0 = time.perf_counter()
        r = eng.generate(msgs, "bench", max_tokens=1)  # auto-refresh finds and loads the new version
        first_req.append(time.perf_counter() - t0)
        assert r.adapter_version == f"v{rec.version}"
    size = sum(p.stat().st_size for p in srcs[0].rglob("*") if p.is_file())
    return {"adapter_mb": size / 2**20, "swap_s": statistics.median(swap_s),
            "first_request_after_publish_s": statistics.median(first_req), "plain_request_s": base_req}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random Llama instead of SmolLM2")
    ap.add_argument("--steps", type=int, default=5, help="timed repetitions")
    ap.add_argument("--prompt-words", type=int, default=150)
    ap.add_argument("--completion-words", type=int, default=120)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loss", default="sampled_token", choices=["sampled_token", "full_kl", "topk_kl"])
    args = ap.parse_args()
    offline.apply()
    torch.set_num_threads(args.threads)
    if args.tiny:
        from tests.training.tiny import make_tiny_model_dir
        base_dir = make_tiny_model_dir(Path(tempfile.mkdtemp(prefix="bench-tiny-")))
    else:
        base_dir = ensure_base_model(load_settings())
    cfg = SDPOConfig(loss=args.loss, max_completion_tokens=512, max_prompt_tokens=1024)
    step = bench_step(base_dir, cfg, make_triple(args.prompt_words, args.completion_words), args.steps)
    swap = bench_swap(base_dir, cfg, max(2, args.steps // 2))
    rows = [("model", base_dir.name), ("threads", args.threads), ("loss", args.loss),
            ("student prompt / teacher prompt / completion tokens",
             f"{step['prompt_tokens']} / {step['teacher_prompt_tokens']} / {step['completion_tokens']}"),
            ("teacher fwd + student fwd/bwd (floor), s", f"{step['floor_s']:.3f}"),
            ("SDPO step, s", f"{step['step_s']:.3f}"),
            ("ratio (target <= 1.3)", f"{step['ratio']:.3f}"),
            ("adapter size, MB", f"{swap['adapter_mb']:.2f}"),
            ("hot swap (read+verify+insert+switch), s", f"{swap['swap_s']:.3f}"),
            ("first request after publish (1 token), s", f"{swap['first_request_after_publish_s']:.3f}"),
            ("plain request (1 token), s", f"{swap['plain_request_s']:.3f}")]
    width = max(len(r[0]) for r in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print(json.dumps({"benchmark": "sdpo", "model": base_dir.name, "threads": args.threads, "loss": args.loss,
                      **{k: round(v, 4) if isinstance(v, float) else v for k, v in {**step, **swap}.items()}}))


if __name__ == "__main__":
    main()
