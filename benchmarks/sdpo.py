"""SDPO step cost and adapter hot-swap latency on the embedded planner (CPU).

    python -m benchmarks.sdpo                    # real SmolLM2-135M, 2 threads
    python -m benchmarks.sdpo --tiny --steps 3   # a tiny random Llama (smoke run)
    python -m benchmarks.sdpo --learning         # does the default recipe learn? (SmolLM2)
    python -m benchmarks.sdpo --learning --lr 1e-4 --control   # another recipe; a control feedback

`--learning` (benchmarks/sdpo_learning.py): one feedback round at the DEFAULT CPU recipe
(or the recipe the flags override) on four logged plans that ignore the persona's
preference, then the held-out margin: log p(plan that satisfies the feedback) minus log
p(plans that do not), under the user's adapter vs the base model, plus another user's
drift. `--control`: the same round with a feedback that asks for something else, so the
gain can be attributed to what the feedback says.

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


def bench_learning(base_dir: Path, cfg: SDPOConfig, rounds: int, feedback: str) -> dict:
    from benchmarks.sdpo_learning import run_learning
    from tests.serve.planner_fixtures import publish_random

    root = Path(tempfile.mkdtemp(prefix="bench-learn-"))
    settings = load_settings(overrides={"data_dir": str(root / "data")})
    res = run_learning(base_dir, settings, cfg, rounds=rounds, feedback=feedback,
                       bob_adapter=lambda reg: publish_random(reg, base_dir, root, "bob", seed=7))
    r = lambda xs: [round(x, 3) for x in xs]  # noqa: E731
    return {"feedback": feedback, "rounds": rounds, "round_s": round(res.seconds / rounds, 1),
            "margin_base": r(res.base), "margin_after": r(res.alice), "margin_gain": r(res.gains),
            "satisfying_logp_gain": r(res.good_gains), "other_user_drift": round(res.bob_drift, 6),
            "loss_first": round(res.metrics.get("loss_first", float("nan")), 4),
            "loss_last": round(res.metrics.get("loss_last", float("nan")), 4)}


def learning_main(args, base_dir: Path) -> None:
    from benchmarks.sdpo_learning import CONTROL_FEEDBACK, FEEDBACK

    over = {k: v for k, v in (("learning_rate", args.lr), ("steps", args.train_steps),
                              ("on_policy", args.on_policy or None), ("loss", args.train_loss)) if v is not None}
    cfg = SDPOConfig(**over)
    runs = [bench_learning(base_dir, cfg, args.rounds, FEEDBACK)]
    if args.control:
        runs.append(bench_learning(base_dir, cfg, args.rounds, CONTROL_FEEDBACK))
    print(f"recipe: lr {cfg.learning_rate:g}, {cfg.steps} steps x batch {cfg.batch_size}, loss {cfg.loss}, "
          f"{'on' if cfg.on_policy else 'off'}-policy, r {cfg.lora_r}; threads {args.threads}")
    for run in runs:
        print(f"feedback: {run['feedback']}")
        for k in ("margin_base", "margin_after", "margin_gain", "satisfying_logp_gain"):
            print(f"  {k:<22} {run[k]}  (mean {statistics.fmean(run[k]):+.2f} nats)")
        print(f"  {'other user drift':<22} {run['other_user_drift']}  round {run['round_s']} s, "
              f"loss {run['loss_first']} -> {run['loss_last']}")
    print(json.dumps({"benchmark": "sdpo_learning", "model": base_dir.name, "threads": args.threads,
                      "recipe": {k: cfg.to_dict()[k] for k in ("learning_rate", "steps", "batch_size", "loss",
                                                               "on_policy", "replay", "lora_r")},
                      "runs": runs}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--learning", action="store_true", help="measure learning at the default recipe")
    ap.add_argument("--rounds", type=int, default=1, help="--learning: feedback rounds")
    ap.add_argument("--control", action="store_true", help="--learning: also a control feedback")
    ap.add_argument("--lr", type=float, default=None, help="--learning: override the learning rate")
    ap.add_argument("--train-steps", type=int, default=None, help="--learning: override steps")
    ap.add_argument("--train-loss", default=None, choices=["sampled_token", "full_kl", "topk_kl"])
    ap.add_argument("--on-policy", action="store_true", help="--learning: on-policy SDPO")
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
    if args.learning:
        return learning_main(args, base_dir)
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
