"""Structured calls on the transformers engines, before and after XGrammar, one run.

    OMP_NUM_THREADS=2 python -m benchmarks.structured_decoding --plans 4 --nested 3
    python -m benchmarks.llm_engines --structured          # the same, from the engine benchmark

before: the hand-written guide (`benchmarks/legacy/json_guide.py`, what the engines ran
until issue 19): the engine writes keys, the model fills each value in its own
generate() call (prompt re-encoded every time); a nested schema was not guidable and fell
back to free generation primed with "{".
after: one generate() under the schema's compiled grammar (`llm/engines/grammar.py`).

Rows: the planner's real plan schema on PlannerEngine (SmolLM2 base, greedy), and a
nested schema (objects inside an array, enums, integer bounds) on TransformersLLM. Per
row: p50 seconds per call, generated tokens/s, and the share of replies that validate
against the schema. Prints a table, then ONE JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from nanoresearch import offline
from benchmarks.legacy.json_guide import guidable, guided_json
from nanoresearch.config import load_settings
from nanoresearch.llm.embedded import ensure_hf_model
from nanoresearch.llm.structured import extract_json, schema_instruction

TASKS = ["classify handwritten digits with a small CNN", "forecast monthly CO2 levels",
         "compare k-NN, SVM and logistic regression on breast cancer data",
         "node classification on the Cora citation graph", "sentiment analysis of movie reviews",
         "detect anomalies in server metrics"]


class Step(BaseModel):
    action: str = Field(max_length=80)
    tool: Literal["python", "shell", "search"]
    minutes: int = Field(ge=1, le=120)


class ExperimentPlan(BaseModel):
    goal: str = Field(max_length=120)
    steps: list[Step] = Field(min_length=2, max_length=4)


def _planner_inputs(n: int):
    from serve.planner_prompt import Candidate, PlannerInput
    return [PlannerInput(stage="experiment", task=TASKS[i % len(TASKS)],
                         skills=[Candidate(id="sk-1", text="run a majority-class baseline first"),
                                 Candidate(id="sk-2", text="fix the random seed")])
            for i in range(n)]


def _legacy_planner(engine, messages, schema, max_tokens) -> tuple[str, int]:
    """The planner's guided path as it was: one generate() per value, no KV cache reuse."""
    import torch
    msgs = [dict(m) if isinstance(m, dict) else m.model_dump() for m in messages]
    prompt = engine.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    eos = engine.tokenizer.eos_token_id

    def complete(prefix: str, stop: list[str], n: int) -> tuple[str, int]:
        ids = engine.tokenizer(prompt + prefix, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            out = engine.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n,
                                        do_sample=False, pad_token_id=eos, stop_strings=stop,
                                        tokenizer=engine.tokenizer, repetition_penalty=1.2)
        new = out[0, ids.shape[1]:].tolist()
        cut = new.index(eos) if eos in new else len(new)
        return engine.tokenizer.decode(new[:cut], skip_special_tokens=True), len(new)
    return guided_json(schema, complete, max_tokens)


def _progress(what: str, runs: list[tuple[float, int, bool]]) -> None:
    s, n, ok = runs[-1]
    print(f"  {what}: {s:.1f}s {n} tokens valid={ok}", file=sys.stderr, flush=True)


def _row(name: str, impl: str, runs: list[tuple[float, int, bool]]) -> dict[str, Any]:
    secs = [s for s, _, _ in runs]
    return dict(schema=name, impl=impl, calls=len(runs), p50_s=round(statistics.median(secs), 2),
                tok_s=round(sum(n for _, n, _ in runs) / max(sum(secs), 1e-9), 1),
                valid_pct=round(100 * sum(v for _, _, v in runs) / len(runs), 1))


def bench_plans(hf_dir, n: int, max_tokens: int) -> list[dict[str, Any]]:
    from serve.planner_engine import PlannerEngine
    from serve.planner_prompt import PlannerOutput, build_messages, plan_schema
    from storage.adapters import AdapterRegistry
    import tempfile

    engine = PlannerEngine(hf_dir, AdapterRegistry(tempfile.mkdtemp(prefix="bench-adapters-")))
    inputs = _planner_inputs(n)
    engine.generate(build_messages(inputs[0]), None, 8, schema=plan_schema(inputs[0]))  # compile + warm
    before, after = [], []
    for inp in inputs:  # alternate so background load hits both alike
        msgs, schema = build_messages(inp), plan_schema(inp)
        assert guidable(schema)
        t = time.perf_counter()
        text, used = _legacy_planner(engine, msgs, schema, max_tokens)
        before.append((time.perf_counter() - t, used, _valid(PlannerOutput, text)))
        _progress("plan before", before)
        t = time.perf_counter()
        res = engine.generate(msgs, None, max_tokens, schema=schema)
        after.append((time.perf_counter() - t, res.completion_tokens, _valid(PlannerOutput, res.text)))
        _progress("plan after", after)
    return [_row("plan", "before:json_guide", before), _row("plan", "after:xgrammar", after)]


def _valid(cls: type[BaseModel], text: str) -> bool:
    try:
        cls.model_validate(extract_json(text))
        return True
    except (ValueError, ValidationError):
        return False


def bench_nested(hf_dir, n: int, max_tokens: int, threads: int) -> list[dict[str, Any]]:
    from nanoresearch.llm.engines.transformers_engine import TransformersLLM

    llm = TransformersLLM(hf_dir, threads=threads)
    schema = ExperimentPlan.model_json_schema()
    assert not guidable(schema)  # the old guide could not fill it
    llm.generate([{"role": "user", "content": "hi"}], schema=schema, max_tokens=8)  # compile + warm
    before, after = [], []
    for i in range(n):
        msgs = [{"role": "user", "content": f"Plan the experiment: {TASKS[i % len(TASKS)]}.\n\n"
                                            + schema_instruction(ExperimentPlan)}]
        t = time.perf_counter()  # before: free generation primed with "{"
        (text, used, _, _), = llm._run([llm._prompt(msgs) + "{"], max_tokens, 0.0, None)
        before.append((time.perf_counter() - t, used, _valid(ExperimentPlan, "{" + text)))
        _progress("nested before", before)
        t = time.perf_counter()
        c = llm.generate(msgs, schema=schema, max_tokens=max_tokens)
        after.append((time.perf_counter() - t, c.usage.completion_tokens, _valid(ExperimentPlan, c.text)))
        _progress("nested after", after)
    return [_row("nested", "before:free+{", before), _row("nested", "after:xgrammar", after)]


def run(plans: int, nested: int, max_tokens: int, threads: int) -> dict[str, Any]:
    hf_dir = ensure_hf_model(load_settings(), "smollm2")
    rows = (bench_plans(hf_dir, plans, max_tokens) if plans else []) + \
        (bench_nested(hf_dir, nested, max_tokens, threads) if nested else [])
    load1 = os.getloadavg()[0]
    print(f"# SmolLM2-135M, transformers, max_tokens={max_tokens}, loadavg1={load1:.1f}")
    cols = ["schema", "impl", "calls", "p50_s", "tok_s", "valid_pct"]
    print(" | ".join(f"{c:>18}" for c in cols))
    for r in rows:
        print(" | ".join(f"{str(r[c]):>18}" for c in cols))
    by = {(r["schema"], r["impl"].split(":")[0]): r for r in rows}
    speed = {s: round(by[(s, "before")]["p50_s"] / max(by[(s, "after")]["p50_s"], 1e-9), 2)
             for s in ("plan", "nested") if (s, "before") in by}
    return {"benchmark": "structured_decoding", "max_tokens": max_tokens, "loadavg1": round(load1, 2),
            "rows": rows, "p50_speedup": speed}


def main(argv: list[str] | None = None) -> None:
    offline.apply()  # process start: no model hub, no library progress bars
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plans", type=int, default=4)
    ap.add_argument("--nested", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=160)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    print(json.dumps(run(args.plans, args.nested, args.max_tokens, args.threads)))


if __name__ == "__main__":
    main()
