"""The VectorStore contract, identical on every backend."""
from __future__ import annotations

import numpy as np
import pytest

from nanoresearch.errors import UserError
from storage.vector_store import AnyOf, Eq, Filter, IsEmpty, Range, point_id

DIM = 8


def vec(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    v = rng.normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture()
def store(factory):
    s = factory.open()
    s.ensure_collection(factory.prefix + "c", DIM, {"user": "keyword", "n": "float", "tags": "keyword"})
    return s


def fill(store, name, n=30):
    items = [(f"item-{i}", vec(i), {"user": f"u{i % 3}", "n": float(i), "tags": ["even" if i % 2 == 0 else "odd"],
                                    **({"opt": "x"} if i % 5 == 0 else {})}) for i in range(n)]
    store.upsert(name, items)
    return items


def test_point_ids_are_deterministic_uuids():
    assert point_id("sk-1") == point_id("sk-1") != point_id("sk-2")
    assert len(point_id("sk-1")) == 36
    with pytest.raises(UserError):
        point_id("")


def test_upsert_get_query_roundtrip_keeps_string_ids(store, factory):
    c = factory.prefix + "c"
    fill(store, c)
    assert store.count(c) == 30
    hits = store.get(c, ["item-3", "missing", "item-4"], with_vector=True)
    assert sorted(h.id for h in hits) == ["item-3", "item-4"]
    h3 = next(h for h in hits if h.id == "item-3")
    assert h3.payload["user"] == "u0" and "_sid" not in h3.payload
    assert np.allclose(h3.vector, vec(3), atol=1e-5)
    top = store.query(c, vec(7), limit=3)
    assert top[0].id == "item-7" and top[0].score == pytest.approx(1.0, abs=1e-4)
    assert top[0].score >= top[1].score >= top[2].score


def test_filters_are_applied_inside_the_query(store, factory):
    c = factory.prefix + "c"
    fill(store, c)
    # the query vector is item-0's, but item-0 is user u0: the nearest u1 point must come back
    hits = store.query(c, vec(0), Filter(must=(Eq("user", "u1"),)), limit=50)
    assert hits and {h.payload["user"] for h in hits} == {"u1"} and len(hits) == 10
    hits = store.query(c, vec(0), Filter(must=(AnyOf("user", ("u1", "u2")), Range("n", gte=10, lt=20))), limit=50)
    assert sorted(int(h.payload["n"]) for h in hits) == [i for i in range(10, 20) if i % 3]
    assert store.count(c, Filter(must=(Eq("tags", "even"),))) == 15
    assert store.count(c, Filter(must_not=(IsEmpty("opt"),))) == 6
    either = Filter(should=(Eq("opt", "x"), Eq("user", "u1")))
    assert store.count(c, Filter(must=(either,))) == len({i for i in range(30) if i % 5 == 0 or i % 3 == 1})


def test_delete_scroll_and_idempotent_ensure(store, factory):
    c = factory.prefix + "c"
    fill(store, c, n=300)
    store.ensure_collection(c, DIM, {"user": "keyword", "n": "float", "tags": "keyword"})
    assert store.count(c) == 300
    store.delete(c, [f"item-{i}" for i in range(100)])
    ids = {h.id for h in store.scroll(c, batch=64)}
    assert len(ids) == 200 and "item-5" not in ids and "item-100" in ids
    assert {h.id for h in store.scroll(c, Filter(must=(Eq("user", "u2"),)))} == \
        {f"item-{i}" for i in range(100, 300) if i % 3 == 2}


def test_dimension_mismatch_is_a_user_error(store, factory):
    with pytest.raises(UserError, match="8-d"):
        store.upsert(factory.prefix + "c", [("x", np.ones(5, np.float32), {})])


def test_data_survives_reopening_the_store(factory):
    if factory.backend == "server":
        pytest.skip("a server persists by itself")
    s = factory.open(persistent=True)
    s.ensure_collection("c", DIM, {"user": "keyword"})
    fill(s, "c")
    s.close()
    s2 = factory.open(persistent=True)
    s2.ensure_collection("c", DIM, {"user": "keyword"})
    assert s2.count("c") == 30
    assert s2.query("c", vec(4), limit=1)[0].id == "item-4"
    with pytest.raises(UserError, match="16-d"):
        factory.open(persistent=True).ensure_collection("c", 16, {}) if factory.backend == "edge" else \
            s2.ensure_collection("c", 16, {})


def test_set_payload_keeps_the_vector(store, factory):
    c = factory.prefix + "c"
    fill(store, c, n=5)
    store.set_payload(c, [("item-2", {"user": "zz", "extra": 1})])
    h = store.get(c, ["item-2"], with_vector=True)[0]
    assert h.id == "item-2" and h.payload["user"] == "zz" and h.payload["extra"] == 1
    assert h.payload["n"] == 2.0 and np.allclose(h.vector, vec(2), atol=1e-5)
    assert store.query(c, vec(2), Filter(must=(Eq("user", "zz"),)), limit=1)[0].id == "item-2"
