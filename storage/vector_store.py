"""One vector-store interface over Qdrant, whatever runs it.

Backends: `EdgeStore` (qdrant-edge-py: Qdrant's Rust engine in-process, the fast
embedded default) and `ClientStore` (qdrant-client: local path, ":memory:", or a
server by URL). Both speak the backend-neutral filter below and pass the same tests.

Qdrant accepts only UUIDs or integers as point ids, so a string id is mapped to a
uuid5 (deterministic: the same string always lands on the same point) and the string
is kept in the payload under `_sid`, which callers never see.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol, Sequence, Union

import numpy as np

from nanoresearch.errors import UserError

_NS = uuid.UUID("6f1c1d9e-3b2a-4c8e-9a51-6a7c2b7e0d11")
SID = "_sid"
INDEX_TYPES = ("keyword", "integer", "float", "bool")


def point_id(sid: str) -> str:
    """Deterministic Qdrant point id (UUID string) for a string id."""
    if not sid:
        raise UserError("an entry needs a non-empty id")
    return str(uuid.uuid5(_NS, sid))


# ----------------------------------------------------------------- filter language
@dataclass(frozen=True)
class Eq:
    """payload[key] == value (for a list field: the list contains value)."""
    key: str
    value: Union[str, int, bool]


@dataclass(frozen=True)
class AnyOf:
    """payload[key] is one of values (for a list field: shares one value)."""
    key: str
    values: tuple


@dataclass(frozen=True)
class Range:
    key: str
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None


@dataclass(frozen=True)
class IsEmpty:
    """The field is missing, null or an empty list."""
    key: str


@dataclass(frozen=True)
class Filter:
    """must: all hold; should: at least one holds; must_not: none holds. A Filter may be
    nested as a condition, which is how "equals v OR is empty" is written."""
    must: tuple = ()
    should: tuple = ()
    must_not: tuple = ()


Condition = Union[Eq, AnyOf, Range, IsEmpty, Filter]


def all_of(*conds: Condition | None) -> Filter | None:
    kept = tuple(c for c in conds if c is not None)
    return Filter(must=kept) if kept else None


@dataclass
class Hit:
    id: str
    score: float
    payload: dict[str, Any]
    vector: np.ndarray | None = field(default=None, repr=False)


def strip_payload(raw: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    payload = dict(raw or {})
    return str(payload.pop(SID, "")), payload


# ----------------------------------------------------------------- interface
class VectorStore(Protocol):
    """Every method takes the collection name first; vectors are float32 rows."""

    def ensure_collection(self, name: str, dim: int, indexes: dict[str, str]) -> None:
        """Create if missing (idempotent) and add payload indexes {field: type}; a dim
        mismatch with an existing collection raises UserError."""

    def upsert(self, collection: str, items: Sequence[tuple[str, np.ndarray, dict]]) -> None:
        """Insert or replace (id, vector, payload) triples."""

    def set_payload(self, collection: str, items: Sequence[tuple[str, dict]]) -> None:
        """Overwrite the given payload keys of existing points; vectors stay as they are."""

    def query(self, collection: str, vector: np.ndarray, filter: Filter | None = None,
              limit: int = 10) -> list[Hit]:
        """Nearest by cosine, filter applied inside the engine (not after)."""

    def get(self, collection: str, ids: Sequence[str], with_vector: bool = False) -> list[Hit]:
        """Points by string id, in the order found; missing ids are skipped."""

    def delete(self, collection: str, ids: Sequence[str]) -> None: ...

    def scroll(self, collection: str, filter: Filter | None = None,
               batch: int = 256, with_vector: bool = False) -> Iterator[Hit]: ...

    def count(self, collection: str, filter: Filter | None = None) -> int: ...

    def close(self) -> None: ...


def check_indexes(indexes: dict[str, str]) -> None:
    for name, kind in indexes.items():
        if kind not in INDEX_TYPES:
            raise UserError(f"payload index {name!r} has type {kind!r}; use one of {INDEX_TYPES}")


def as_vector(vector: np.ndarray | Sequence[float], dim: int) -> list[float]:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if v.shape[0] != dim:
        raise UserError(f"vector has {v.shape[0]} dims but the collection holds {dim}-d vectors; "
                        f"the embedder changed - use another store_dir or export and re-import")
    return v.tolist()


def make_vector_store(backend: str, path: str | None = None, url: str | None = None,
                      api_key: str | None = None) -> VectorStore:
    """backend "edge" | "local" | "server" -> a store. Imports the engine on demand."""
    if backend == "edge":
        from storage.edge_store import EdgeStore
        if not path:
            raise UserError("the edge backend needs a path (settings.store_dir)")
        return EdgeStore(path)
    if backend == "local":
        from storage.client_store import ClientStore
        return ClientStore(path=path or ":memory:")
    if backend == "server":
        from storage.client_store import ClientStore
        if not url:
            raise UserError("storage.backend=server needs storage.qdrant_url "
                            "(e.g. http://127.0.0.1:6333) or NANORESEARCH_STORAGE__QDRANT_URL")
        return ClientStore(url=url, api_key=api_key)
    raise UserError(f"unknown storage backend {backend!r}; choose edge, local or server")
