"""Retrieval benchmark of the memory store: ingest throughput and filtered query latency.

    OMP_NUM_THREADS=1 python -m benchmarks.retrieval                       # 1k, 10k, 100k edge; 1k, 10k local
    python -m benchmarks.retrieval --sizes 1000 10000 --backends edge --queries 100
    python -m benchmarks.retrieval --part literature   # literature BM25: hand-written vs bm25s at 100k

Entries are memory-shaped payloads (1 of 100 users, a category, a dataset condition,
timestamps) with RANDOM unit vectors of MiniLM's 384 dims: the engine's cost does not
depend on what the vectors mean, and embedding 100k texts would time the embedder,
not the store. Query rows:
- `store`: one Qdrant query with the memory module's real access filter (user
  equality + strict dataset condition + category any-of), limit 50 candidates.
- `bank`: MemoryModule.retrieve_scored end to end (hash-embed the query, the same
  filtered query, re-rank 50 candidates by the documented score, stamp last access).
qdrant-client local mode runs in memory here: with a path it fsyncs SQLite once per
point (measured ~34 points/s on this disk), which would time the disk, not the engine.
Edge is measured as ingested (appendable segments with payload indexes; the embedded
shard runs no background optimizer) and, up to --optimize-max, again after
optimize() builds HNSW segments. Prints a table, then ONE JSON line.
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time

import numpy as np

from nanoresearch import offline
from nanoresearch.embeddings import HashEmbedder
from nanoresearch.types import MemoryEntry
from storage.memory import MemoryModule
from storage.vector_store import make_vector_store

log = logging.getLogger("benchmarks.retrieval")
DIM = 384
USERS = 100
DATASETS = ["mnist", "cifar10", "wine", "iris", "ag_news", "cora", "etth1", "esc50"]
CATEGORIES = ["preference", "decision", "validated_config", "failed_direction", "outcome", "fact"]


def _entries(n: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray, dict]]:
    vecs = rng.normal(size=(n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    helper = MemoryModule.__new__(MemoryModule)  # only for its payload layout
    now = time.time()
    out = []
    users, cats, data = (rng.integers(0, k, size=n) for k in (USERS, len(CATEGORIES), len(DATASETS)))
    for i in range(n):
        m = MemoryEntry(id=f"m{i}", user_id=f"u{users[i]}", project_id=f"p{i % 500}",
                        category=CATEGORIES[cats[i]], content=f"memory {i}",
                        conditions={"dataset": DATASETS[data[i]]} if i % 4 else {},
                        importance=float(rng.random()), created_at=now - i, updated_at=now - i)
        out.append((m.id, vecs[i], helper._payload(m)))
    return out


def _pct(xs: list[float]) -> tuple[float, float]:
    return float(np.percentile(xs, 50)), float(np.percentile(xs, 99))


def _time_queries(fn, n_queries: int, rng) -> tuple[float, float, float]:
    lat, hits = [], 0
    for q in range(n_queries):
        t = time.perf_counter()
        hits += fn(q, rng)
        lat.append((time.perf_counter() - t) * 1000)
    p50, p99 = _pct(lat)
    return p50, p99, hits / n_queries


def run_one(backend: str, n: int, n_queries: int, optimize: bool, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    # client local mode with a path commits (fsyncs) SQLite once per point: ~34 points/s
    # on this disk, so it is measured in memory - the same pure-Python query engine
    root = tempfile.mkdtemp(prefix=f"bench-{backend}-") if backend == "edge" else None
    store = make_vector_store(backend, root)
    mm = MemoryModule(store, HashEmbedder(dim=DIM), cap_per_scope=10**9)
    items = _entries(n, rng)
    t = time.perf_counter()
    for i in range(0, n, 1000):
        store.upsert(mm.name, items[i:i + 1000])
    ingest_s = time.perf_counter() - t
    rows = []

    def store_q(q, rng):
        v = rng.normal(size=DIM).astype(np.float32)
        flt = mm.access_filter(f"u{q % USERS}", {"dataset": DATASETS[q % len(DATASETS)]},
                               categories=("failed_direction", "validated_config", "fact"))
        return len(store.query(mm.name, v / np.linalg.norm(v), flt, limit=50))

    def bank_q(q, rng):
        return len(mm.retrieve_scored(f"learning rate diverged {q}", f"u{q % USERS}",
                                      {"dataset": DATASETS[q % len(DATASETS)]}, k=5))

    phases = [("as ingested", None)]
    if backend == "edge" and optimize:
        phases.append(("optimized", store.optimize))
    for phase, prepare in phases:
        opt_s = 0.0
        if prepare is not None:
            t = time.perf_counter()
            prepare()
            opt_s = time.perf_counter() - t
        for kind, fn in (("store", store_q), ("bank", bank_q)):
            fn(0, rng)  # warm-up: first query loads segments / caches
            p50, p99, avg_hits = _time_queries(fn, n_queries, rng)
            rows.append(dict(backend=backend, n=n, phase=phase, query=kind,
                             ingest_per_s=round(n / ingest_s), optimize_s=round(opt_s, 1),
                             p50_ms=round(p50, 2), p99_ms=round(p99, 2), avg_hits=round(avg_hits, 1)))
    store.close()
    return rows


def main() -> None:
    offline.apply()  # process start: no model hub, no library progress bars
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--backends", nargs="+", default=["edge", "local"], choices=["edge", "local"])
    ap.add_argument("--local-max", type=int, default=10000,
                    help="largest size run on qdrant-client local mode (pure Python, slow)")
    ap.add_argument("--optimize-max", type=int, default=10000,
                    help="largest edge size also measured after optimize() (HNSW build: ~25 s at 10k on 2 cores)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--part", choices=["memory", "literature"], default="memory",
                    help="literature: the literature index before/after (benchmarks/retrieval_literature.py)")
    args = ap.parse_args()
    if args.part == "literature":
        from benchmarks.retrieval_literature import run
        print(json.dumps(run(100_000, args.queries)))
        return
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for backend in args.backends:
        for n in args.sizes:
            if backend == "local" and n > args.local_max:
                continue
            nq = args.queries if backend == "edge" else max(20, args.queries // 10)
            rows += run_one(backend, n, nq, optimize=n <= args.optimize_max)
            log.warning("done %s n=%d: %s", backend, n, rows[-1])
    head = f"{'backend':8}{'n':>8}  {'phase':12}{'query':6}{'ingest/s':>10}{'opt s':>7}{'p50 ms':>9}{'p99 ms':>9}{'hits':>6}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['backend']:8}{r['n']:>8}  {r['phase']:12}{r['query']:6}{r['ingest_per_s']:>10}"
              f"{r['optimize_s']:>7}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['avg_hits']:>6}")
    edge_100k = [r for r in rows if r["backend"] == "edge" and r["n"] == max(args.sizes)
                 and r["query"] == "store"]
    summary = {"benchmark": "retrieval", "dim": DIM, "vectors": "random", "rows": rows,
               "target": "edge p99 < 20 ms at 100k",
               "edge_largest_p99_ms": min((r["p99_ms"] for r in edge_100k), default=None)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
