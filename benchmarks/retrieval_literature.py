"""Literature index benchmark: the hand-written BM25 (before) against bm25s (after) on
the same token lists, in one run on one box.

    OMP_NUM_THREADS=1 python -m benchmarks.retrieval --part literature
    python -m benchmarks.retrieval_literature --records 100000 --queries 200

Both indexes get identical documents (our tokenizer, titles counted twice, as
`literature/local.py` builds them), so the rows time the index, not the tokenizer
(which is reported once, `tokenize_s`). Rows: build seconds (untraced), optionally the
build's peak traced memory (`--build-memory`), bytes on disk, load seconds and the heap
a process holds after loading (tracemalloc; bm25s memory-maps the matrix, so processes
share it through the page cache), query p50/p99 over a fixed query mix after a warm-up, and recall@10 on the
seven domain queries of `tests/literature/test_local.py` (share of the top 10 that
carry a domain word, the tests' own relevance rule). Prints a table, then ONE JSON line.
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from nanoresearch import offline
from benchmarks.legacy.bm25_handwritten import BM25Index as HandWritten
from nanoresearch.config import _default_library
from nanoresearch.literature.bm25 import BM25Index as Bm25s
from nanoresearch.literature.local import convert, doc_tokens

# the domain queries and relevance words of tests/literature/test_local.py
DOMAINS = {
    "nlp": ("sentiment classification of movie reviews with pretrained transformers",
            {"sentiment", "text", "language", "review"}),
    "cv": ("image classification convolutional network data augmentation",
           {"image", "visual", "vision", "convolutional"}),
    "multimodal": ("vision language model image captioning visual question answering",
                   {"vision-language", "visual", "caption", "multimodal", "image"}),
    "tabular": ("gradient boosted decision trees for tabular data", {"tabular", "boosting", "tree"}),
    "timeseries": ("multivariate time series forecasting", {"time series", "forecasting", "temporal"}),
    "graph": ("graph neural network node classification message passing", {"graph", "node", "gnn"}),
    "audio": ("speech recognition and audio event classification",
              {"speech", "audio", "acoustic", "sound"}),
}
EXTRA = ["learning rate warmup for transformers", "federated learning privacy", "diffusion models",
         "reinforcement learning from human feedback", "contrastive self-supervised pretraining",
         "graph attention", "bayesian optimization hyperparameters", "adversarial robustness"]


def load_docs(path: str, n: int) -> tuple[list[list[str]], list[str]]:
    docs, texts = [], []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if len(docs) >= n:
                break
            rec = convert(json.loads(line))
            docs.append(doc_tokens(rec.title, rec.abstract))
            texts.append((rec.title + " " + rec.abstract).lower())
    return docs, texts


def _traced(fn):
    """(result, peak MB of Python-tracked allocations, numpy buffers included)."""
    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def measure(name: str, cls, docs, texts, n_queries: int, build_memory: bool) -> dict:
    t = time.perf_counter()  # timed untraced: tracemalloc slows pure-Python loops unevenly
    index = cls.build(iter(docs))
    build_s = time.perf_counter() - t
    peak = _traced(lambda: cls.build(iter(docs)))[1] if build_memory else None
    folder = Path(tempfile.mkdtemp(prefix=f"bench-lit-{name}-"))
    index.save(folder)
    del index
    disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    t = time.perf_counter()
    index, load_mb = _traced(lambda: cls.load(folder))
    load_s = time.perf_counter() - t
    queries = [q for q, _ in DOMAINS.values()] + EXTRA
    for q in queries:  # warm-up: page cache and first-call allocations, alike for both
        index.top(q, 10)
    lat = []
    for i in range(n_queries):
        t = time.perf_counter()
        index.top(queries[i % len(queries)], 10)
        lat.append((time.perf_counter() - t) * 1000)
    relevant = []
    for q, words in DOMAINS.values():
        top = index.top(q, 10)
        relevant.append(sum(any(w in texts[r] for w in words) for r, _ in top) / 10)
    top10 = [r for r, _ in index.top(DOMAINS["graph"][0], 10)]
    del index
    shutil.rmtree(folder, ignore_errors=True)
    return dict(impl=name, n=len(docs), build_s=round(build_s, 2),
                build_peak_mb=None if peak is None else round(peak, 1),
                disk_mb=round(disk / 2**20, 1), load_s=round(load_s, 3), load_heap_mb=round(load_mb, 1),
                p50_ms=round(float(np.percentile(lat, 50)), 2), p99_ms=round(float(np.percentile(lat, 99)), 2),
                recall_at_10=round(float(np.mean(relevant)), 3),
                min_domain_recall=round(float(min(relevant)), 2), top10=top10)


def run(records: int, n_queries: int, library: str | None = None, build_memory: bool = False) -> dict:
    path = library or _default_library()
    if not path:
        raise SystemExit("no literature library found (shared/literature or literature/data)")
    t = time.perf_counter()
    docs, texts = load_docs(path, records)
    tok_s = time.perf_counter() - t
    rows = [measure("handwritten", HandWritten, docs, texts, n_queries, build_memory),
            measure("bm25s", Bm25s, docs, texts, n_queries, build_memory)]
    before, after = rows
    same_top = before.pop("top10") == after.pop("top10")
    print(f"# {len(docs)} records, tokenize {tok_s:.1f}s (shared by both)")
    cols = ["impl", "build_s", "build_peak_mb", "disk_mb", "load_s", "load_heap_mb", "p50_ms", "p99_ms",
            "recall_at_10"]
    print(" | ".join(f"{c:>13}" for c in cols))
    for r in rows:
        print(" | ".join(f"{str(r[c]):>13}" for c in cols))
    return {"benchmark": "retrieval_literature", "records": len(docs), "tokenize_s": round(tok_s, 1),
            "before": before, "after": after, "same_graph_top10": same_top,
            "build_speedup": round(before["build_s"] / max(after["build_s"], 1e-9), 2),
            "p50_speedup": round(before["p50_ms"] / max(after["p50_ms"], 1e-9), 2)}


def main(argv: list[str] | None = None) -> None:
    offline.apply()  # process start: no model hub, no library progress bars
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--library", default=None, help="arxiv_ml.jsonl.gz (default: the shipped one)")
    ap.add_argument("--build-memory", action="store_true",
                    help="also trace the build's peak memory (a second, slower build per index)")
    args = ap.parse_args(argv)
    print(json.dumps(run(args.records, args.queries, args.library, args.build_memory)))


if __name__ == "__main__":
    main()
