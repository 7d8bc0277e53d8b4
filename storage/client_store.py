"""ClientStore: the qdrant-client backend - a Qdrant server by URL (clusters), or
the client's local mode (`path=` / ":memory:") which speaks the same API in pure
Python, so the server code path is exercised on machines without a server.

In local mode payload indexes are ignored by the client (it scans); on a server they
make the filtered queries of the skill/memory stores index lookups.
"""
from __future__ import annotations

import logging
import threading
import warnings
from typing import Iterator, Sequence

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm

from nanoresearch.errors import RunFailure, ServiceUnavailable, UserError
from storage.vector_store import (
    SID, AnyOf, Condition, Eq, Filter, Hit, IsEmpty, Range, as_vector, check_indexes, point_id,
    strip_payload,
)

log = logging.getLogger(__name__)

_SCHEMA = {"keyword": qm.PayloadSchemaType.KEYWORD, "integer": qm.PayloadSchemaType.INTEGER,
           "float": qm.PayloadSchemaType.FLOAT, "bool": qm.PayloadSchemaType.BOOL}


def _cond(c: Condition):
    if isinstance(c, Eq):
        return qm.FieldCondition(key=c.key, match=qm.MatchValue(value=c.value))
    if isinstance(c, AnyOf):
        return qm.FieldCondition(key=c.key, match=qm.MatchAny(any=list(c.values)))
    if isinstance(c, Range):
        return qm.FieldCondition(key=c.key, range=qm.Range(gte=c.gte, gt=c.gt, lte=c.lte, lt=c.lt))
    if isinstance(c, IsEmpty):
        return qm.IsEmptyCondition(is_empty=qm.PayloadField(key=c.key))
    if isinstance(c, Filter):
        return to_client_filter(c)
    raise TypeError(f"unsupported filter condition {c!r}")


def to_client_filter(f: Filter | None) -> qm.Filter | None:
    if f is None:
        return None
    conv = lambda cs: [_cond(c) for c in cs] or None  # noqa: E731
    return qm.Filter(must=conv(f.must), should=conv(f.should), must_not=conv(f.must_not))


class ClientStore:
    def __init__(self, path: str | None = None, url: str | None = None, api_key: str | None = None,
                 timeout: int = 30):
        self.where = url or path or ":memory:"
        try:
            if url:
                self.client = QdrantClient(url=url, api_key=api_key, timeout=timeout)
                self.client.get_collections()  # fail now, with the URL in the message
            elif path and path != ":memory:":
                self.client = QdrantClient(path=path)
            else:
                self.client = QdrantClient(location=":memory:")
        except RuntimeError as e:  # local mode: the path is locked by another process
            raise RunFailure(f"Qdrant local store {path} is in use by another process ({e}); "
                             f"call it through the storage actor or use storage.backend=server") from None
        except Exception as e:
            raise ServiceUnavailable(f"Qdrant server at {url} is unreachable ({e}); check "
                                     f"storage.qdrant_url / qdrant_api_key or use backend=edge") from None
        self._dims: dict[str, int] = {}
        self._lock = threading.RLock()

    def ensure_collection(self, name: str, dim: int, indexes: dict[str, str]) -> None:
        check_indexes(indexes)
        with self._lock:
            if not self.client.collection_exists(name):
                try:
                    self.client.create_collection(
                        name, vectors_config=qm.VectorParams(size=dim, distance=qm.Distance.COSINE))
                except Exception:  # another actor created it between the check and here
                    if not self.client.collection_exists(name):
                        raise
            have = self.client.get_collection(name).config.params.vectors.size
            if have != dim:
                raise UserError(f"collection {name!r} at {self.where} holds {have}-d vectors but "
                                f"the embedder gives {dim}-d; use another collection or re-import")
            self._dims[name] = dim
            with warnings.catch_warnings():  # local mode warns that indexes are no-ops
                warnings.simplefilter("ignore")
                for fld, kind in indexes.items():
                    self.client.create_payload_index(name, fld, field_schema=_SCHEMA[kind])

    def _dim(self, name: str) -> int:
        if name not in self._dims:
            raise UserError(f"collection {name!r} is not open; call ensure_collection first")
        return self._dims[name]

    def close(self) -> None:
        with self._lock:
            self.client.close()

    def upsert(self, collection: str, items: Sequence[tuple[str, np.ndarray, dict]]) -> None:
        if not items:
            return
        dim = self._dim(collection)
        points = [qm.PointStruct(id=point_id(sid), vector=as_vector(vec, dim),
                                 payload={**payload, SID: sid}) for sid, vec, payload in items]
        with self._lock:
            self.client.upsert(collection, points=points, wait=True)

    def set_payload(self, collection: str, items: Sequence[tuple[str, dict]]) -> None:
        self._dim(collection)
        ops = [qm.SetPayloadOperation(set_payload=qm.SetPayload(payload=payload, points=[point_id(sid)]))
               for sid, payload in items]
        if ops:
            with self._lock:
                self.client.batch_update_points(collection, ops, wait=True)

    def query(self, collection: str, vector: np.ndarray, filter: Filter | None = None,
              limit: int = 10) -> list[Hit]:
        with self._lock:
            res = self.client.query_points(collection, query=as_vector(vector, self._dim(collection)),
                                           query_filter=to_client_filter(filter), limit=limit,
                                           with_payload=True)
        hits = []
        for p in res.points:
            sid, payload = strip_payload(p.payload)
            hits.append(Hit(sid, float(p.score), payload))
        return hits

    @staticmethod
    def _hit(rec, with_vector: bool) -> Hit:
        sid, payload = strip_payload(rec.payload)
        vec = np.asarray(rec.vector, dtype=np.float32) if with_vector and rec.vector is not None else None
        return Hit(sid, 1.0, payload, vec)

    def get(self, collection: str, ids: Sequence[str], with_vector: bool = False) -> list[Hit]:
        if not ids:
            return []
        self._dim(collection)
        with self._lock:
            recs = self.client.retrieve(collection, [point_id(i) for i in ids], with_payload=True,
                                        with_vectors=with_vector)
        return [self._hit(r, with_vector) for r in recs]

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if ids:
            with self._lock:
                self.client.delete(collection, points_selector=qm.PointIdsList(
                    points=[point_id(i) for i in ids]), wait=True)

    def scroll(self, collection: str, filter: Filter | None = None, batch: int = 256,
               with_vector: bool = False) -> Iterator[Hit]:
        offset = None
        while True:
            with self._lock:
                recs, offset = self.client.scroll(collection, scroll_filter=to_client_filter(filter),
                                                  limit=batch, offset=offset, with_payload=True,
                                                  with_vectors=with_vector)
            yield from (self._hit(r, with_vector) for r in recs)
            if offset is None or not recs:
                return

    def count(self, collection: str, filter: Filter | None = None) -> int:
        with self._lock:
            return self.client.count(collection, count_filter=to_client_filter(filter), exact=True).count
