"""EdgeStore: the embedded backend on qdrant-edge-py (Qdrant's Rust engine in-process).

One shard directory per collection under `root/`, plus `root/<name>.meta.json`
recording the vector size so a changed embedder is reported instead of corrupting
the shard. A shard's write-ahead log is locked by its process: a second process
opening the same path fails, which is why embedded mode has one storage owner
(storage/ray_store.py) that everyone else calls.
"""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import qdrant_edge as qe

from nanoresearch.errors import RunFailure, UserError
from nanoresearch.workspace import atomic_write_json
from storage.vector_store import (
    SID, AnyOf, Condition, Eq, Filter, Hit, IsEmpty, Range, as_vector, check_indexes, point_id,
    strip_payload,
)

log = logging.getLogger(__name__)

_SCHEMA = {"keyword": qe.PayloadSchemaType.Keyword, "integer": qe.PayloadSchemaType.Integer,
           "float": qe.PayloadSchemaType.Float, "bool": qe.PayloadSchemaType.Bool}


def _cond(c: Condition):
    if isinstance(c, Eq):
        return qe.FieldCondition(key=c.key, match=qe.MatchValue(c.value))
    if isinstance(c, AnyOf):
        return qe.FieldCondition(key=c.key, match=qe.MatchAny(list(c.values)))
    if isinstance(c, Range):
        return qe.FieldCondition(key=c.key, range=qe.RangeFloat(gte=c.gte, gt=c.gt, lte=c.lte, lt=c.lt))
    if isinstance(c, IsEmpty):
        return qe.IsEmptyCondition(key=c.key)
    if isinstance(c, Filter):
        return to_edge_filter(c)
    raise TypeError(f"unsupported filter condition {c!r}")


def to_edge_filter(f: Filter | None):
    if f is None:
        return None
    conv = lambda cs: [_cond(c) for c in cs] or None  # noqa: E731
    return qe.Filter(must=conv(f.must), should=conv(f.should), must_not=conv(f.must_not))


class EdgeStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._shards: dict[str, qe.EdgeShard] = {}
        self._dims: dict[str, int] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------- lifecycle
    def _open(self, name: str, dim: int) -> qe.EdgeShard:
        path = self.root / name
        meta = self.root / f"{name}.meta.json"
        config = qe.EdgeConfig(vectors=qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine))
        if meta.exists():
            try:
                stored = json.loads(meta.read_text())["dim"]
            except (ValueError, KeyError, TypeError) as e:
                raise UserError(f"{meta} is unreadable ({e}); it only records the vector size: "
                                f"delete it and reopen the store") from None
            if stored != dim:
                raise UserError(f"collection {name!r} at {path} holds {stored}-d vectors but the "
                                f"embedder gives {dim}-d; use another store_dir or export/import")
        try:
            shard = qe.EdgeShard.load(str(path)) if path.exists() and any(path.iterdir()) \
                else qe.EdgeShard.create(str(path), config)
        except Exception as e:  # the Rust binding raises a bare Exception
            if "WAL" in str(e) or "WouldBlock" in str(e):
                raise RunFailure(f"store {path} is open in another process; in embedded mode one "
                                 f"process owns it - call it through the storage actor, or use "
                                 f"storage.backend=server") from None
            raise RunFailure(f"cannot open Qdrant Edge shard {path}: {e}") from None
        atomic_write_json(meta, {"dim": dim})  # temp + fsync + rename + dir fsync
        return shard

    def ensure_collection(self, name: str, dim: int, indexes: dict[str, str]) -> None:
        check_indexes(indexes)
        with self._lock:
            if name not in self._shards:
                self._shards[name] = self._open(name, dim)
                self._dims[name] = dim
            elif self._dims[name] != dim:
                raise UserError(f"collection {name!r} is {self._dims[name]}-d, asked for {dim}-d")
            shard = self._shards[name]
            have = set(shard.info().payload_schema)
            for fld, kind in indexes.items():
                if fld not in have:
                    shard.update(qe.UpdateOperation.create_field_index(fld, _SCHEMA[kind]))

    def _shard(self, name: str) -> qe.EdgeShard:
        try:
            return self._shards[name]
        except KeyError:
            raise UserError(f"collection {name!r} is not open; call ensure_collection first") from None

    def close(self) -> None:
        with self._lock:
            for name, shard in self._shards.items():
                try:
                    shard.flush()
                    shard.close()
                except Exception as e:  # closing must not mask the caller's own error
                    log.warning("closing shard %s failed: %s", name, e)
            self._shards.clear()

    def flush(self) -> None:
        with self._lock:
            for shard in self._shards.values():
                shard.flush()

    def optimize(self) -> None:
        """Build HNSW/payload indexes now instead of on the optimizer's schedule."""
        with self._lock:
            for shard in self._shards.values():
                shard.optimize()

    # ------------------------------------------------------------- data
    def upsert(self, collection: str, items: Sequence[tuple[str, np.ndarray, dict]]) -> None:
        if not items:
            return
        dim = self._dims.get(collection, 0)
        points = [qe.Point(point_id(sid), as_vector(vec, dim), {**payload, SID: sid})
                  for sid, vec, payload in items]
        with self._lock:
            self._shard(collection).update(qe.UpdateOperation.upsert_points(points))

    def set_payload(self, collection: str, items: Sequence[tuple[str, dict]]) -> None:
        with self._lock:
            shard = self._shard(collection)
            for sid, payload in items:
                shard.update(qe.UpdateOperation.set_payload([point_id(sid)], payload))

    def query(self, collection: str, vector: np.ndarray, filter: Filter | None = None,
              limit: int = 10) -> list[Hit]:
        shard = self._shard(collection)
        req = qe.QueryRequest(limit=limit, query=qe.Query.Nearest(as_vector(vector, self._dims[collection])),
                              filter=to_edge_filter(filter), with_payload=True)
        with self._lock:
            points = shard.query(req)
        hits = []
        for p in points:
            sid, payload = strip_payload(p.payload)
            hits.append(Hit(sid, float(p.score), payload))
        return hits

    def get(self, collection: str, ids: Sequence[str], with_vector: bool = False) -> list[Hit]:
        if not ids:
            return []
        with self._lock:
            recs = self._shard(collection).retrieve([point_id(i) for i in ids], with_payload=True,
                                                    with_vector=with_vector)
        return [self._hit(r, with_vector) for r in recs]

    @staticmethod
    def _hit(rec, with_vector: bool) -> Hit:
        sid, payload = strip_payload(rec.payload)
        vec = np.asarray(rec.vector, dtype=np.float32) if with_vector and rec.vector is not None else None
        return Hit(sid, 1.0, payload, vec)

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if ids:
            with self._lock:
                self._shard(collection).update(
                    qe.UpdateOperation.delete_points([point_id(i) for i in ids]))

    def scroll(self, collection: str, filter: Filter | None = None, batch: int = 256,
               with_vector: bool = False) -> Iterator[Hit]:
        offset = None
        while True:
            req = qe.ScrollRequest(offset=offset, limit=batch, filter=to_edge_filter(filter),
                                   with_payload=True, with_vector=with_vector)
            with self._lock:
                recs, offset = self._shard(collection).scroll(req)
            yield from (self._hit(r, with_vector) for r in recs)
            if offset is None or not recs:
                return

    def count(self, collection: str, filter: Filter | None = None) -> int:
        with self._lock:
            return self._shard(collection).count(qe.CountRequest(exact=True, filter=to_edge_filter(filter)))
