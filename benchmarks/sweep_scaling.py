"""Sweep scaling: speed-up of the Ray sweep vs the number of workers, with simulated cells.

    python -m benchmarks.sweep_scaling                  # workers 1,2,4; 4 chains x 2 rounds
    python -m benchmarks.sweep_scaling --workers 1,2 --latency 0.3 --calls 8

A simulated cell makes `calls` structured LLM calls (generate_structured -> JSON parse ->
pydantic validation, metered by a Ledger) to a FunctionModel that *sleeps* `latency`
seconds per call: LLM waits dominate a real cycle with a hosted model, and sleeping
cells let the benchmark measure the sweep machinery (Ray tasks with num_cpus=1, the
chain scheduler, round ordering) rather than the 2 shared CPU cores of this machine.
Local Ray is started with as many logical CPUs as the largest worker count; 4 workers
on 2 physical cores is meaningful only because the cells sleep. Speed-up = T(1)/T(N);
target >= 0.9 N. Prints a table and ends with one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from pydantic import BaseModel

from benchmarks.sweep_cells import Cell, make_chains


WARM_MODULES = ("benchmarks.sweep_cells", "nanoresearch.llm.ledger", "nanoresearch.llm.scripted",
                "nanoresearch.llm.structured")


class StepDecision(BaseModel):
    action: str
    confidence: float


def simulated_cell(cfg: dict[str, Any], cell: Cell) -> dict[str, Any]:
    """One cell's LLM traffic: `calls` structured calls to a model that sleeps."""
    from nanoresearch.llm.ledger import Ledger, MeteredLLM
    from nanoresearch.llm.scripted import FunctionModel
    from nanoresearch.llm.structured import generate_structured

    def answer(msgs) -> str:
        time.sleep(cfg["latency"])
        return json.dumps({"action": f"step for {cell.key}", "confidence": 0.5})

    ledger = Ledger()
    llm = MeteredLLM(FunctionModel(answer, model="sleepy"), ledger, "sim")
    t0 = time.perf_counter()
    for i in range(cfg["calls"]):
        generate_structured(llm, [{"role": "user", "content": f"{cell.key} step {i}"}], StepDecision)
    return {"cell": cell.key, "wall_s": time.perf_counter() - t0, "pid": os.getpid(),
            "calls": ledger.summary()["calls"]}


def measure(workers: int, chains: list[list[Cell]], cfg: dict[str, Any], task_fn: Any) -> dict[str, Any]:
    from benchmarks.ray_sweep import run_chains_ray

    results: list[Any] = []
    t0 = time.perf_counter()
    run_chains_ray(cfg, chains, workers, lambda c, r: results.append(r), task_fn=task_fn)
    wall = time.perf_counter() - t0
    bad = [r for r in results if isinstance(r, BaseException)]
    if bad:
        raise RuntimeError(f"{len(bad)} simulated cell(s) failed: {bad[0]}")
    return {"workers": workers, "wall_s": round(wall, 3), "cells": len(results),
            "processes": len({r["pid"] for r in results}),
            "cell_s_mean": round(sum(r["wall_s"] for r in results) / len(results), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sweep_scaling")
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--calls", type=int, default=10, help="LLM calls per cell")
    ap.add_argument("--latency", type=float, default=0.2, help="seconds per simulated LLM call")
    a = ap.parse_args(argv)

    from benchmarks.ray_sweep import ensure_ray, remote_cell, shutdown, warm_workers

    counts = [int(x) for x in a.workers.split(",")]
    chains = make_chains([f"sim{i}" for i in range(a.chains)], ["full"], a.rounds)
    cfg = {"calls": a.calls, "latency": a.latency}
    started = ensure_ray(max(counts))
    try:
        warm_workers(max(counts), WARM_MODULES)
        task_fn = remote_cell(simulated_cell)
        rows = [measure(n, chains, cfg, task_fn) for n in counts]
    finally:
        if started:
            shutdown()
    t1 = next((r["wall_s"] for r in rows if r["workers"] == 1), None)
    for r in rows:
        r["speedup"] = round(t1 / r["wall_s"], 3) if t1 else None
        r["efficiency"] = round(r["speedup"] / r["workers"], 3) if t1 else None
        r["meets_0.9N"] = bool(t1 and r["speedup"] >= 0.9 * r["workers"])
    ideal = a.calls * a.latency
    print(f"simulated cells: {a.chains} chains x {a.rounds} rounds, {a.calls} calls x {a.latency}s "
          f"sleep each (ideal {ideal:.1f}s/cell)")
    print("| workers | wall s | speed-up | efficiency | >= 0.9N | worker processes |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['workers']} | {r['wall_s']:.2f} | {r['speedup']} | {r['efficiency']} | "
              f"{r['meets_0.9N']} | {r['processes']} |")
    print(json.dumps({"benchmark": "sweep_scaling", "cells": "simulated (sleeping LLM calls)",
                      "chains": a.chains, "rounds": a.rounds, "calls_per_cell": a.calls,
                      "latency_s": a.latency, "cpu_cores": os.cpu_count(), "rows": rows,
                      "target": "speedup >= 0.9 * workers",
                      "all_meet_target": all(r["meets_0.9N"] for r in rows)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
