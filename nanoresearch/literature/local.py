"""Offline literature: the arXiv ML corpus (100k records, shipped in `data/`, see
`shipped.py`) behind a BM25 index (bm25s) built once under the cache dir and loaded
memory-mapped, with an optional embedding rerank of the candidates.

Hybrid = BM25 recall, then dense precision: a dense index over 100k abstracts would take
tens of minutes to embed on 2 CPU cores, while reranking ~50 BM25 candidates costs a
fraction of a second with MiniLM and still fixes most keyword-match mistakes.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np

from nanoresearch.errors import UserError
from nanoresearch.literature import shipped
from nanoresearch.literature.bm25 import BM25Index
from nanoresearch.literature.text import collapse, local_id, tokenize
from nanoresearch.types import LiteratureRecord

log = logging.getLogger(__name__)
INDEX_VERSION = 2  # 2: bm25s index files, library read from a file or shipped parts


class Embedder(Protocol):
    def embed(self, texts: list[str]) -> np.ndarray: ...


def record_text(r: LiteratureRecord) -> str:
    return f"{r.title}. {r.abstract[:600]}"


def doc_tokens(title: str, abstract: str) -> list[str]:
    # the title counts twice: it names the contribution, the abstract dilutes it
    return tokenize(f"{title} {title} {abstract}")


def rerank(query: str, hits: list[LiteratureRecord], embedder: Embedder | None,
           k: int, alpha: float = 0.5) -> list[LiteratureRecord]:
    """Blend normalised BM25 with embedding cosine; without an embedder keep BM25 order."""
    if not hits:
        return []
    if embedder is None:
        return hits[:k]
    top = max(h.score for h in hits) or 1.0
    vecs = np.asarray(embedder.embed([query] + [record_text(h) for h in hits]), dtype=np.float32)
    cos = np.clip(vecs[1:] @ vecs[0], 0.0, 1.0)
    for h, c in zip(hits, cos):
        h.score = float((1 - alpha) * h.score / top + alpha * c)
    return sorted(hits, key=lambda h: -h.score)[:k]


def convert(raw: dict[str, Any]) -> LiteratureRecord:
    title = collapse(raw.get("title", ""))
    aid = raw.get("arxiv_id")
    pub = raw.get("published") or ""
    return LiteratureRecord(
        id=f"arxiv:{aid}" if aid else local_id(title), title=title,
        abstract=collapse(raw.get("abstract", "")), authors=list(raw.get("authors") or []),
        year=int(pub[:4]) if pub[:4].isdigit() else None, venue="arXiv" if aid else "",
        url=f"https://arxiv.org/abs/{aid}" if aid else "",
        categories=list(raw.get("categories") or []), source="local")


class LocalLibrary:
    """`search(query, k)` over the corpus; `get(id)` for a known record."""

    name = "local"

    def __init__(self, library_path: str | Path, cache_dir: str | Path,
                 embedder: Embedder | None = None, candidates: int = 50):
        self.path = Path(library_path).expanduser()
        if not shipped.available(self.path):
            raise UserError(f"literature library {self.path} not found; set "
                            "literature.library_path to the arxiv_ml.jsonl.gz file or drop "
                            "'local' from literature.sources")
        self.embedder = embedder
        self.candidates = candidates
        self.folder = Path(cache_dir).expanduser() / "literature" / self._key()
        if not (self.folder / "done").exists():
            self._build()
        t = time.perf_counter()
        self.index = BM25Index.load(self.folder)
        self.offsets = np.load(self.folder / "offsets.npy")
        self.ids: list[str] = json.loads((self.folder / "ids.json").read_text())
        self.row_of = {i: n for n, i in enumerate(self.ids)}
        self._fh = open(self.folder / "records.jsonl", "rb")
        self._size = os.fstat(self._fh.fileno()).st_size
        log.info("loaded literature index %s (%d records) in %.2fs", self.folder,
                 len(self.ids), time.perf_counter() - t)

    def _key(self) -> str:
        raw = f"{shipped.fingerprint(self.path)}|{INDEX_VERSION}"
        return hashlib.sha1(raw.encode()).hexdigest()[:16]

    def _iter_raw(self) -> Iterator[dict[str, Any]]:
        raw = shipped.open_bytes(self.path)
        stream = gzip.open(raw) if self.path.suffix == ".gz" else raw
        with raw, io.TextIOWrapper(stream, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)

    def _build(self) -> None:
        """Build into a temp folder and rename: concurrent builders (several agents on
        one machine) never see a half-written index; the loser's copy is discarded."""
        t = time.perf_counter()
        shipped.verify(self.path)  # a damaged shipped part fails here, clearly, not mid-parse
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.folder.parent, prefix=".build-"))
        ids, offsets = [], []
        with open(tmp / "records.jsonl", "wb") as out:
            def docs() -> Iterator[list[str]]:
                for raw in self._iter_raw():
                    rec = convert(raw)
                    ids.append(rec.id)
                    offsets.append(out.tell())
                    out.write(rec.model_dump_json(exclude={"kind", "schema_version", "score"})
                              .encode() + b"\n")
                    yield doc_tokens(rec.title, rec.abstract)
            index = BM25Index.build(docs())
        index.save(tmp)
        np.save(tmp / "offsets.npy", np.asarray(offsets, dtype=np.int64))
        (tmp / "ids.json").write_text(json.dumps(ids))
        (tmp / "done").write_text(str(time.time()))
        try:
            os.rename(tmp, self.folder)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("built literature index for %d records in %.1fs", len(ids),
                 time.perf_counter() - t)

    def _record(self, row: int, score: float = 0.0) -> LiteratureRecord:
        # pread, not seek+readline: threads sharing one library cannot interleave reads
        start = int(self.offsets[row])
        end = int(self.offsets[row + 1]) if row + 1 < len(self.offsets) else self._size
        rec = LiteratureRecord.model_validate_json(os.pread(self._fh.fileno(), end - start, start))
        rec.score = score
        return rec

    def get(self, paper_id: str) -> LiteratureRecord | None:
        row = self.row_of.get(paper_id)
        return None if row is None else self._record(row)

    def search(self, query: str, k: int = 10) -> list[LiteratureRecord]:
        n = max(k, self.candidates) if self.embedder is not None else k
        hits = [self._record(r, s) for r, s in self.index.top(query, n)]
        return rerank(query, hits, self.embedder, k)

    def __len__(self) -> int:
        return len(self.ids)

    def close(self) -> None:
        self._fh.close()
