"""Embedded model engines: load time, tokens/s single-stream and batched, and the cost
of going through the provider layer (make_llm + MeteredLLM ledger) vs the raw engine.

    python -m benchmarks.llm_engines                       # every importable engine
    python -m benchmarks.llm_engines --engines llama_cpp --max-tokens 64 --batch 8
    OMP_NUM_THREADS=2 python -m benchmarks.llm_engines --threads 2
    python -m benchmarks.llm_engines --structured          # before/after XGrammar, one run

Greedy decoding on SmolLM2-135M-Instruct (or providers.embedded_model_path). Numbers
depend on how busy the CPU is, so the load average is printed beside them, and each rate
also comes per CPU-second of this process (`*_tok_cpu_s`), which a busy machine distorts
far less. The provider layer's own cost is also timed on a zero-cost stub model
(`provider_us_per_call`). The table is for people; the last line is one JSON object.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import time
from typing import Any

from nanoresearch import offline
from nanoresearch.config import load_settings
from nanoresearch.llm.embedded import ensure_hf_model, load_engine
from nanoresearch.llm.engines.paths import resolve_model_path
from nanoresearch.llm.ledger import Ledger, MeteredLLM
from nanoresearch.llm.scripted import FunctionModel

PROMPTS = [
    "Explain what a learning rate is in two sentences.",
    "List three uses of graph neural networks.",
    "Describe overfitting to a new student.",
    "What does a confusion matrix show?",
    "Give one reason to use cross-validation.",
    "Summarize what dropout does in a neural network.",
    "Why do we normalize input features?",
    "What is the difference between precision and recall?",
]


def _msgs(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]


def raw_call(engine: Any, name: str, max_tokens: int) -> tuple[float, int]:
    """The engine's own API with no provider code around it: (seconds, new tokens)."""
    t0 = time.perf_counter()
    if name == "llama_cpp":
        r = engine.llama.create_chat_completion(messages=_msgs(0), max_tokens=max_tokens,
                                                temperature=0.0)
        n = r["usage"]["completion_tokens"]
    elif name == "transformers":
        tok, model = engine.tokenizer, engine.hf_model
        enc = tok([engine._prompt(_msgs(0))], return_tensors="pt", add_special_tokens=False)
        out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False,
                             pad_token_id=tok.pad_token_id)
        n = out.shape[1] - enc["input_ids"].shape[1]
    else:
        out = engine.engine_obj.chat([_msgs(0)], engine._vllm.SamplingParams(
            max_tokens=max_tokens, temperature=0.0), use_tqdm=False)
        n = len(out[0].outputs[0].token_ids)
    return time.perf_counter() - t0, n


def provider_us_per_call(n: int = 2000) -> float:
    """Microseconds the provider layer adds per call (message coercion, ledger check and
    record), measured around a stub model that returns at once."""
    stub = MeteredLLM(FunctionModel(lambda m: "ok"), Ledger(), agent="bench")
    raw = FunctionModel(lambda m: "ok")
    t0 = time.perf_counter()
    for _ in range(n):
        raw.generate(_msgs(0))
    t_raw = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        stub.generate(_msgs(0))
    return 1e6 * (time.perf_counter() - t0 - t_raw) / n


def timed(fn: Any, *a: Any) -> tuple[float, float, int]:
    """(wall s, process CPU s, new tokens) of fn(*a) -> (wall, tokens)."""
    c0 = time.process_time()
    wall, n = fn(*a)
    return wall, time.process_time() - c0, n


def provider_call(llm: Any, max_tokens: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    comp = llm.generate(_msgs(0), max_tokens=max_tokens)
    return time.perf_counter() - t0, comp.usage.completion_tokens


def bench_engine(name: str, settings: Any, args: argparse.Namespace) -> dict[str, Any]:
    path = resolve_model_path(settings, args.model)
    row: dict[str, Any] = {"engine": name}
    if name != "llama_cpp":
        t0 = time.perf_counter()
        ensure_hf_model(settings, args.model)
        row["convert_or_verify_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    engine = load_engine(name, settings, path)
    row["load_s"] = round(time.perf_counter() - t0, 2)
    engine.generate(_msgs(1), max_tokens=4)  # warm-up: first-call allocations
    metered = MeteredLLM(engine, Ledger(), agent="bench")

    raw, prov = [], []
    for _ in range(args.repeats):  # alternate so background load hits both alike
        raw.append(timed(raw_call, engine, name, args.max_tokens))
        prov.append(timed(provider_call, metered, args.max_tokens))
    raw_tps = statistics.median(n / w for w, _, n in raw)
    prov_tps = statistics.median(n / w for w, _, n in prov)
    row.update(single_tok_s=round(prov_tps, 2), raw_single_tok_s=round(raw_tps, 2),
               single_tok_cpu_s=round(statistics.median(n / c for _, c, n in prov), 2),
               raw_single_tok_cpu_s=round(statistics.median(n / c for _, c, n in raw), 2),
               wall_overhead_pct=round(100 * (raw_tps - prov_tps) / raw_tps, 2),
               single_tokens=prov[0][2], raw_call_s=round(statistics.median(w for w, _, _ in raw), 3))

    batch = [_msgs(i) for i in range(args.batch)]
    c0, t0 = time.process_time(), time.perf_counter()
    comps = metered.generate_batch(batch, max_tokens=args.max_tokens)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = sum(c.usage.completion_tokens for c in comps)
    row.update(batch=args.batch, batch_tokens=n, batched_tok_s=round(n / wall, 2),
               batched_tok_cpu_s=round(n / cpu, 2), batch_wall_s=round(wall, 2))
    return row


def available(requested: list[str] | None) -> list[str]:
    names = [("llama_cpp", "llama_cpp"), ("transformers", "transformers"), ("vllm", "vllm")]
    found = [n for n, mod in names if importlib.util.find_spec(mod)]
    return [n for n in found if not requested or n in requested]


def main(argv: list[str] | None = None) -> int:
    offline.apply()  # process start: no model hub, no library progress bars
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", nargs="*", help="subset of llama_cpp transformers vllm")
    ap.add_argument("--model", default="smollm2", help="embedded model: smollm2 or a path")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="engine threads (default: config)")
    ap.add_argument("--structured", action="store_true",
                    help="structured calls before (hand-written guide) and after (XGrammar): "
                         "benchmarks/structured_decoding.py")
    args = ap.parse_args(argv)
    if args.structured:
        from benchmarks.structured_decoding import run
        print(json.dumps(run(plans=4, nested=3, max_tokens=160, threads=args.threads or 2)))
        return 0
    settings = load_settings()
    if args.threads:
        settings.providers.embedded_threads = args.threads
    overhead_us = provider_us_per_call()
    rows = []
    for name in available(args.engines):
        try:
            rows.append(bench_engine(name, settings, args))
        except Exception as e:  # one broken engine must not hide the others' numbers
            rows.append({"engine": name, "error": f"{type(e).__name__}: {e}"[:200]})
    load1 = os.getloadavg()[0]
    for r in rows:
        if "raw_call_s" in r:  # the layer's fixed cost as a share of one real call
            r["provider_overhead_pct"] = round(100 * overhead_us / 1e6 / r["raw_call_s"], 4)
    cols = ["engine", "load_s", "single_tok_s", "raw_single_tok_s", "single_tok_cpu_s",
            "raw_single_tok_cpu_s", "batched_tok_s", "batched_tok_cpu_s", "provider_overhead_pct"]
    print(f"# threads={settings.providers.embedded_threads} cpus={os.cpu_count()} "
          f"loadavg1={load1:.1f} max_tokens={args.max_tokens}")
    print(f"# provider layer: {overhead_us:.1f} us per call on a stub model")
    print(" | ".join(f"{c:>12}" for c in cols))
    for r in rows:
        print(" | ".join(f"{str(r.get(c, r.get('error', '-') if c == 'load_s' else '-')):>12}"
                         for c in cols))
    print(json.dumps({"benchmark": "llm_engines", "threads": settings.providers.embedded_threads,
                      "loadavg1": round(load1, 2), "max_tokens": args.max_tokens,
                      "batch": args.batch, "provider_us_per_call": round(overhead_us, 1),
                      "engines": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
