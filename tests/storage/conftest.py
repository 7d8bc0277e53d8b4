"""Backend fixtures: every store test runs on Qdrant Edge, qdrant-client local mode
(which speaks the server's client API) and, when QDRANT_URL is set, a real server."""
from __future__ import annotations

import os
import uuid

import pytest

from nanoresearch.embeddings import HashEmbedder
from storage.memory import MemoryModule
from storage.scoring import RetrievalWeights
from storage.skills import SkillBank
from storage.vector_store import make_vector_store

T0 = 1_750_000_000.0
DAY = 86400.0

BACKENDS = [
    "edge",
    "local",
    pytest.param("server", marks=pytest.mark.qdrant_server),
]


class Clock:
    """A settable clock so recency and decay are tested without sleeping."""

    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class StoreFactory:
    """Opens (and re-opens, for restart tests) the same store location."""

    def __init__(self, backend: str, tmp_path):
        if backend == "server" and not os.environ.get("QDRANT_URL"):
            pytest.skip("QDRANT_URL is not set: no Qdrant server can be installed on this "
                        "machine (not on PyPI/Debian/npm, no Docker); set it to run these")
        self.backend = backend
        self.path = str(tmp_path / f"store-{backend}")
        self.prefix = f"t{uuid.uuid4().hex[:8]}_" if backend == "server" else ""
        self.opened = []

    def open(self, persistent: bool = False):
        # client local mode fsyncs SQLite per point with a path; only restart tests need one
        path = self.path if self.backend != "local" or persistent else None
        store = make_vector_store(self.backend, path, os.environ.get("QDRANT_URL"),
                                  os.environ.get("QDRANT_API_KEY"))
        self.opened.append(store)
        return store

    def cleanup(self) -> None:
        for store in self.opened:
            if self.backend == "server":
                for c in store.client.get_collections().collections:
                    if c.name.startswith(self.prefix):
                        store.client.delete_collection(c.name)
            try:
                store.close()
            except Exception:
                pass


@pytest.fixture(params=BACKENDS)
def factory(request, tmp_path):
    f = StoreFactory(request.param, tmp_path)
    yield f
    f.cleanup()


@pytest.fixture()
def clock():
    return Clock()


@pytest.fixture()
def embedder():
    return HashEmbedder(dim=256)


@pytest.fixture()
def make_banks(factory, embedder, clock):
    """make_banks(weights=None, skill_cap=500, memory_cap=2000, store=None) -> (skills, memories, store)."""
    def make(weights: RetrievalWeights | None = None, skill_cap: int = 500, memory_cap: int = 2000,
             store=None):
        store = store or factory.open()
        kw = dict(weights=weights, clock=clock, collection_prefix=factory.prefix)
        return (SkillBank(store, embedder, cap_per_scope=skill_cap, **kw),
                MemoryModule(store, embedder, cap_per_scope=memory_cap, **kw), store)
    return make
