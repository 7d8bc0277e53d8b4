"""LEGACY (benchmark baseline only; the product uses bm25s). A BM25 inverted index as one sparse matrix (terms x docs) of precomputed weights.

Precomputing the BM25 weight of every (term, doc) pair turns a query into a sparse row
slice plus a sum, which answers in milliseconds over 100k abstracts without a search
server; the matrix saves and loads as plain .npy files (no pickle of code objects).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np
from scipy import sparse

from nanoresearch.literature.text import tokenize


class BM25Index:
    def __init__(self, weights: sparse.csr_matrix, vocab: dict[str, int]):
        self.weights = weights  # shape (n_terms, n_docs), BM25 weight per pair
        self.vocab = vocab

    @property
    def n_docs(self) -> int:
        return self.weights.shape[1]

    @classmethod
    def build(cls, docs: Iterable[list[str]], k1: float = 1.2, b: float = 0.75) -> "BM25Index":
        vocab: dict[str, int] = {}
        rows, cols, tfs, lengths = [], [], [], []
        for d, toks in enumerate(docs):
            counts = Counter(toks)
            lengths.append(len(toks))
            for term, tf in counts.items():
                rows.append(vocab.setdefault(term, len(vocab)))
                cols.append(d)
                tfs.append(tf)
        rows_a = np.asarray(rows, dtype=np.int32)
        cols_a = np.asarray(cols, dtype=np.int32)
        tf = np.asarray(tfs, dtype=np.float32)
        dl = np.asarray(lengths, dtype=np.float32)
        n_docs = len(lengths)
        df = np.bincount(rows_a, minlength=len(vocab)).astype(np.float32)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        norm = k1 * (1 - b + b * dl[cols_a] / max(float(dl.mean()) if n_docs else 1.0, 1e-9))
        w = idf[rows_a] * tf * (k1 + 1) / (tf + norm)
        mat = sparse.csr_matrix((w.astype(np.float32), (rows_a, cols_a)),
                                shape=(len(vocab), n_docs))
        return cls(mat, vocab)

    def scores(self, query: str) -> np.ndarray:
        counts = Counter(t for t in tokenize(query) if t in self.vocab)
        if not counts:
            return np.zeros(self.n_docs, dtype=np.float32)
        rows = [self.vocab[t] for t in counts]
        qw = np.asarray(list(counts.values()), dtype=np.float32)
        return np.asarray(self.weights[rows].T @ qw).ravel()

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        s = self.scores(query)
        k = min(k, int((s > 0).sum()))
        if k <= 0:
            return []
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return [(int(i), float(s[i])) for i in idx]

    # ------------------------------------------------------------------ persistence
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        m = self.weights
        np.save(folder / "bm25_data.npy", m.data)
        np.save(folder / "bm25_indices.npy", m.indices)
        np.save(folder / "bm25_indptr.npy", m.indptr)
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / "vocab.json").write_text(json.dumps({"n_docs": m.shape[1], "terms": terms}))

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        meta = json.loads((folder / "vocab.json").read_text())
        terms = meta["terms"]
        mat = sparse.csr_matrix(
            (np.load(folder / "bm25_data.npy"), np.load(folder / "bm25_indices.npy"),
             np.load(folder / "bm25_indptr.npy")), shape=(len(terms), meta["n_docs"]))
        return cls(mat, {t: i for i, t in enumerate(terms)})
