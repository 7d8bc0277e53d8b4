"""Memory module: strict conditions, decay, importance, support, isolation, merges."""
from __future__ import annotations

import pytest

from nanoresearch.errors import UserError
from nanoresearch.types import MemoryEntry
from storage.memory import conflicts, normalise_conditions
from storage.scoring import RetrievalWeights
from tests.storage.conftest import DAY, T0


def mem(**kw) -> MemoryEntry:
    base = dict(user_id="ana", content="learning rate 0.1 made the loss diverge",
                category="failed_direction", created_at=T0, updated_at=T0)
    base.update(kw)
    return MemoryEntry(**base)


def ids(memories, query, user="ana", **kw):
    return [m.id for m in memories.retrieve(query, user, **kw)]


def test_normalise_and_conflicts():
    n = normalise_conditions({"Datasets": "MNIST, Fashion_MNIST", "topic": "GNNs, robustness", "x": ""})
    assert n == {"dataset": ["fashion_mnist", "mnist"], "topic": ["gnns, robustness"]}
    assert conflicts(n, normalise_conditions({"dataset": "cifar10"})) == ["dataset"]
    assert conflicts(n, normalise_conditions({"dataset": "mnist", "method": "mlp"})) == []


def test_strict_conditions_reject_a_textually_identical_memory(make_banks):
    _, memories, _ = make_banks()
    memories.add(mem(id="cifar", conditions={"dataset": "cifar10", "method": "resnet18"}), merge=False)
    memories.add(mem(id="mnist", content="lr 0.1 was fine", conditions={"dataset": "mnist"}), merge=False)
    memories.add(mem(id="general", content="prefers small models", category="preference"), merge=False)
    q = "learning rate 0.1 made the loss diverge"
    got = ids(memories, q, conditions={"dataset": "mnist"}, k=10)
    assert "cifar" not in got and set(got) == {"mnist", "general"}
    assert "cifar" in ids(memories, q, conditions={"dataset": "cifar10", "method": "ResNet18"}, k=10)
    assert "cifar" not in ids(memories, q, conditions={"dataset": "cifar10", "method": "vit"}, k=10)
    assert ids(memories, q, conditions={"dataset": "svhn, cifar10"}, k=1) == ["cifar"]
    assert len(ids(memories, q, k=10)) == 3  # no conditions asked: nothing conflicts


def test_decay_is_applied_and_recency_decides(make_banks, clock):
    _, memories, _ = make_banks()
    memories.add(mem(id="old", updated_at=T0 - 90 * DAY), merge=False)
    memories.add(mem(id="new"), merge=False)
    q = "learning rate diverge"
    scored = memories.retrieve_scored(q, "ana", k=2, touch=False)
    assert [m.id for m, _ in scored] == ["new", "old"]
    fresh = scored[0][1]
    clock.t = T0 + 60 * DAY
    later = dict((m.id, s) for m, s in memories.retrieve_scored(q, "ana", k=2, touch=False))
    assert later["new"] < fresh - 0.1  # two half-lives of decay on the recency term
    # an access stamps last_accessed_at, which restores recency
    memories.retrieve(q, "ana", k=1)
    assert memories.get("new").last_accessed_at == clock.t


@pytest.mark.parametrize("field,better,worse", [
    ("importance", 0.9, 0.2),
    ("support_count", 5, 0),
])
def test_importance_and_support_decide(make_banks, field, better, worse):
    _, memories, _ = make_banks()
    memories.add(mem(id="worse", **{field: worse}), merge=False)
    memories.add(mem(id="better", **{field: better}), merge=False)
    assert ids(memories, "loss diverge", k=2) == ["better", "worse"]


def test_contradictions_lower_the_rank(make_banks):
    _, memories, _ = make_banks()
    memories.add(mem(id="a"), merge=False)
    memories.add(mem(id="b"), merge=False)
    for _ in range(3):
        memories.reinforce("a", supported=False)
    assert memories.get("a").contradiction_count == 3
    assert ids(memories, "loss diverge", k=2) == ["b", "a"]
    with pytest.raises(UserError):
        memories.reinforce("missing")


def test_condition_alignment_prefers_the_specific_memory(make_banks):
    _, memories, _ = make_banks(RetrievalWeights(w_similarity=0.0, w_keyword=0.0))
    memories.add(mem(id="generic"), merge=False)
    memories.add(mem(id="specific", conditions={"dataset": "mnist"}), merge=False)
    assert ids(memories, "loss diverge", conditions={"dataset": "mnist"}, k=2) == ["specific", "generic"]


def test_isolation_is_in_the_filter_with_many_users(make_banks):
    # 300 memories of other users are closer to the query than ana's only one; a
    # post-filter over 50 candidates would return nothing for ana
    _, memories, _ = make_banks(RetrievalWeights(candidates=50))
    q = "batch size 512 ran out of memory on the gpu"
    others = [mem(id=f"m{u}-{i}", user_id=f"user{u}", content=q) for u in range(30) for i in range(10)]
    memories.add_many(others, merge=False)
    memories.add(mem(id="ana-1", content="use gradient accumulation when memory is short"), merge=False)
    assert ids(memories, q, k=5) == ["ana-1"]
    for u in (0, 7, 29):
        got = memories.retrieve(q, f"user{u}", k=20)
        assert len(got) == 10 and {m.user_id for m in got} == {f"user{u}"}
    with pytest.raises(UserError):
        memories.retrieve(q, "")


def test_project_scoping(make_banks):
    _, memories, _ = make_banks()
    memories.add(mem(id="p1", project_id="p1"), merge=False)
    memories.add(mem(id="p2", project_id="p2"), merge=False)
    memories.add(mem(id="user-level", category="preference"), merge=False)
    assert set(ids(memories, "loss", project_id="p1", k=10)) == {"p1", "user-level"}
    assert set(ids(memories, "loss", k=10)) == {"p1", "p2", "user-level"}


def test_repeat_experience_merges_as_support(make_banks):
    _, memories, _ = make_banks()
    first = memories.add(mem(id="a", conditions={"dataset": "mnist"}, importance=0.4))
    again = memories.add(mem(id="b", conditions={"dataset": "MNIST"}, importance=0.8))
    assert again.id == "a" and memories.count() == 1
    assert again.support_count == first.support_count + 1 and again.importance == 0.8
    # same text, other conditions, other user or other category: kept apart
    memories.add(mem(id="c", conditions={"dataset": "cifar10"}))
    memories.add(mem(id="d", conditions={"dataset": "mnist"}, user_id="bob"))
    memories.add(mem(id="e", conditions={"dataset": "mnist"}, category="outcome"))
    memories.add(mem(id="f"))  # general memory: not absorbed into the mnist one
    assert memories.count() == 5


def test_memory_cap_per_user(make_banks):
    _, memories, _ = make_banks(memory_cap=2)
    memories.add(mem(id="keep", importance=0.9, content="alpha fact"), merge=False)
    memories.add(mem(id="drop", importance=0.1, content="beta fact"), merge=False)
    memories.add(mem(id="bob", user_id="bob", content="bob fact"), merge=False)
    memories.add(mem(id="latest", importance=0.3, content="gamma fact"), merge=False)
    assert sorted(m.id for m in memories.list()) == ["bob", "keep", "latest"]


def test_decay_schedule_halves_idle_memories_per_half_life_and_keeps_requirements(tmp_path):
    from nanoresearch.embeddings import HashEmbedder
    from storage.service import StoreService
    from storage.vector_store import make_vector_store
    from tests.storage.conftest import Clock

    svc = StoreService(make_vector_store("edge", str(tmp_path / "q")), HashEmbedder(), tmp_path, tmp_path)
    clock = Clock(T0)
    svc.memories.clock = clock
    try:
        old = MemoryEntry(user_id="ana", content="tf-idf with bigrams worked on tweets", importance=0.8,
                          created_at=T0, updated_at=T0)
        weak = MemoryEntry(user_id="ana", content="one stray note about plots", importance=0.06,
                           created_at=T0, updated_at=T0)
        req = MemoryEntry(user_id="ana", content="requirement: efficiency table", category="requirement",
                          importance=0.9, created_at=T0, updated_at=T0,
                          form={"artifact": "paper", "field": "table", "value": "efficiency"})
        svc.add_memories([old, weak, req])
        clock.t = T0 + 60 * DAY
        assert svc.decay_memories("ana") == {"decayed": 0, "dropped": 0}  # first call: the mark
        clock.t += 30 * DAY  # one half-life later
        assert svc.decay_memories("ana") == {"decayed": 1, "dropped": 1}
        assert abs(svc.get_memory(old.id, "ana").importance - 0.4) < 1e-6
        assert svc.get_memory(weak.id, "ana") is None
        assert svc.get_memory(req.id, "ana").importance == 0.9
        assert [m.id for m in svc.requirements("ana")] == [req.id]
        assert svc.decay_memories("bob") == {"decayed": 0, "dropped": 0}
    finally:
        svc.close()
