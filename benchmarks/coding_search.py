"""Code tree search throughput: nodes per minute with 1 and 2 workers, the sandbox's
overhead per run, and mean debug attempts per draft.

    OMP_NUM_THREADS=1 python -m benchmarks.coding_search                # 4 drafts, 1 vs 2 workers
    python -m benchmarks.coding_search --drafts 6 --backend local       # without bubblewrap

Every node is a real codebase on the staged co2 series (a ridge AR forecaster whose lag
count differs per draft, the harness contract's metrics.json), run through the real
executor behind the contract checks; one draft in four carries an ImportError that a
scripted patch fixes, so each worker count also runs debug nodes. `parallel: 1` runs in
this process, `parallel: 2` as Ray tasks on a local Ray (start-up and one warm-up search
are not timed).
Sandbox overhead = median wall time of a no-op program in the executor minus the same
program as a plain subprocess. Prints a table, then ONE JSON line.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from actors.code_search import run_code_search
from actors.coding import CodingAgent
from actors.debugging import DebuggingAgent
from nanoresearch import artifacts as A
from nanoresearch.llm.scripted import FunctionModel
from nanoresearch.types import Blueprint, DatasetSpec, MethodSpec, SearchTree

RUN = '''import json, resource, time
import numpy as np
N_LAGS = {lags}
cfg = json.load(open("config.json"))
y = np.load("data/co2.npz", allow_pickle=False)["series"].astype(float)
metrics, runs = [], []
def ar(train, h, k=N_LAGS, alpha=1.0):
    d = np.diff(train)
    X = np.stack([d[i:i + k] for i in range(len(d) - k)]); t = d[k:]
    w = np.linalg.solve(X.T @ X + alpha * np.eye(k), X.T @ t)
    hist = list(d[-k:])
    for _ in range(h):
        hist.append(np.array(hist[-k:]) @ w)
    return train[-1] + np.cumsum(hist[k:])
for seed in cfg["seeds"][:2]:
    end = len(y) - 12 * (seed + 1)
    for split, tr, te in (("validation", y[:end - 12], y[end - 12:end]), ("test", y[:end], y[end:end + 12])):
        t0 = time.time(); mae = float(np.mean(np.abs(ar(tr, 12) - te)))
        metrics.append(dict(method=cfg["method"]["name"], dataset="co2", metric=cfg["primary_metric"], value=mae, seed=seed, split=split))
        runs.append(dict(dataset="co2", method=cfg["method"]["name"], seed=seed, split=split, metrics={{cfg["primary_metric"]: mae}},
                         runtime_s=time.time() - t0, peak_memory_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
json.dump({{"metrics": metrics, "runs": runs}}, open("metrics.json", "w"))
'''


def codebase(i: int) -> dict[str, str]:
    code = RUN.format(lags=6 + 6 * i)
    if i % 4 == 3:  # a planted ImportError for the debug path
        code = "from numpy import moving_average\n" + code
    return {"run.py": code}


def coder(msgs) -> str:
    text = msgs[-1].content
    i = int(text.split("This is draft ")[1].split(":")[0]) - 1 if "This is draft " in text else 0
    return json.dumps({"files": codebase(i), "summary": f"AR with {6 + 6 * i} lags"})


def fixer(msgs) -> str:
    return json.dumps({"file": "run.py", "search": "from numpy import moving_average\n", "replace": "",
                       "reason": "numpy has no moving_average; it is unused"})


def blueprint() -> Blueprint:
    return Blueprint(title="co2 AR", domain="timeseries", datasets=[DatasetSpec(name="co2")],
                     proposed_method=MethodSpec(name="Ridge AR"), baselines=[MethodSpec(name="Naive")],
                     metrics=["MAE"], primary_metric="mae", seeds=[0, 1])


def make_executor(backend: str):
    from nanoresearch.execution.factory import make_executor as factory
    return factory(SimpleNamespace(execution=SimpleNamespace(
        backend=backend, timeout_s=120, memory_mb=2048, cpus=1, ray_address=None, slurm_partition=None)))


def search_once(drafts: int, parallel: int, backend: str) -> dict:
    work = Path(tempfile.mkdtemp(prefix="nr-bench-")) / "experiment" / "code"
    agent = CodingAgent(FunctionModel(coder), mode="free")
    art = agent.write(blueprint(), None, [], work)
    t0 = time.perf_counter()
    run_code_search(art, work, agent, DebuggingAgent(FunctionModel(fixer)), make_executor(backend), 2,
                    SimpleNamespace(drafts=drafts, depth=0, parallel=parallel))
    wall = time.perf_counter() - t0
    tree = SearchTree.model_validate_json(A.TREE.at(work.parent).read_text())
    debug = sum(n.operator == "debug" for n in tree.nodes)
    return {"workers": parallel, "nodes": len(tree.nodes), "wall_s": round(wall, 2),
            "nodes_per_min": round(60 * len(tree.nodes) / wall, 1),
            "debug_per_draft": round(debug / drafts, 3), "best": tree.best}


def sandbox_overhead_ms(backend: str, n: int = 5) -> float:
    work = Path(tempfile.mkdtemp(prefix="nr-bench-noop-"))
    (work / "run.py").write_text("print('ok')\n")
    ex = make_executor(backend)
    inside, plain = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        ex.run(work, "run.py")
        inside.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "run.py"], cwd=work, capture_output=True, check=True)
        plain.append(time.perf_counter() - t0)
    return round(1000 * (statistics.median(inside) - statistics.median(plain)), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drafts", type=int, default=4)
    ap.add_argument("--backend", default="sandbox", choices=["sandbox", "local"])
    args = ap.parse_args()
    overhead = sandbox_overhead_ms(args.backend)
    rows = [search_once(args.drafts, 1, args.backend)]
    from actors.ray_app import init_ray
    init_ray(num_cpus=2)
    search_once(2, 2, args.backend)  # warm-up: Ray starts its worker processes and imports
    rows.append(search_once(args.drafts, 2, args.backend))
    speedup = round(rows[1]["nodes_per_min"] / rows[0]["nodes_per_min"], 2)
    print(f"{'workers':>7} {'nodes':>5} {'wall s':>7} {'nodes/min':>9} {'debug/draft':>11}")
    for r in rows:
        print(f"{r['workers']:>7} {r['nodes']:>5} {r['wall_s']:>7} {r['nodes_per_min']:>9} {r['debug_per_draft']:>11}")
    print(f"speed-up 2 vs 1 workers: {speedup}x; {args.backend} overhead per run: {overhead} ms")
    print(json.dumps({"benchmark": "coding_search", "backend": args.backend, "drafts": args.drafts,
                      "rows": rows, "speedup_2_vs_1": speedup, "sandbox_overhead_ms": overhead,
                      "mean_debug_attempts_per_draft": rows[0]["debug_per_draft"]}))


if __name__ == "__main__":
    main()
