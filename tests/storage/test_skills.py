"""Skill bank: ranking follows the documented score, usage moves it, merges, caps,
isolation, JSONL round trip - on every backend."""
from __future__ import annotations

import pytest

from nanoresearch.errors import UserError
from nanoresearch.types import SkillEntry
from storage.scoring import RetrievalWeights, score_skill, tokens
from tests.storage.conftest import DAY, T0

TEXT = dict(name="stabilise training", trigger="loss becomes nan",
            instructions=["lower the learning rate by 10x and clip gradients"])


def skill(**kw) -> SkillEntry:
    base = dict(stage="debugging", created_at=T0, updated_at=T0, **TEXT)
    base.update(kw)
    return SkillEntry(**base)


def order(bank, query, **kw):
    return [s.id for s in bank.retrieve(query, **kw)]


def test_keyword_match_decides_when_vectors_are_ignored(make_banks):
    skills, _, _ = make_banks(RetrievalWeights(w_similarity=0.0))
    skills.add(skill(id="a", name="tokenizer fix", instructions=["pad the batch to equal length"]), merge=False)
    skills.add(skill(id="b", name="tokenizer fix", instructions=["truncate to the model max length"]), merge=False)
    assert order(skills, "truncate max length", k=2) == ["b", "a"]
    assert order(skills, "pad batch", k=2) == ["a", "b"]


@pytest.mark.parametrize("field,better,worse", [
    ("updated_at", T0, T0 - 120 * DAY),           # recency
    ("usage_count", 30, 0),                         # usage frequency
    ("confidence", 0.9, 0.3),                       # confidence
])
def test_each_factor_decides_between_otherwise_equal_skills(make_banks, field, better, worse):
    skills, _, _ = make_banks()
    skills.add(skill(id="worse", **{field: worse}), merge=False)
    skills.add(skill(id="better", **{field: better}), merge=False)
    assert order(skills, "loss is nan during training", k=2) == ["better", "worse"]


def test_tag_alignment_decides(make_banks):
    skills, _, _ = make_banks()
    skills.add(skill(id="torch", tags=["pytorch"]), merge=False)
    skills.add(skill(id="jax", tags=["jax"]), merge=False)
    assert order(skills, "loss is nan", tags=["jax"], k=2) == ["jax", "torch"]
    assert order(skills, "loss is nan", tags=["PyTorch"], k=2) == ["torch", "jax"]


def test_scores_are_the_documented_formula(make_banks, embedder, clock):
    skills, _, store = make_banks()
    skills.add(skill(id="s1", tags=["nan"], usage_count=4, confidence=0.7), merge=False)
    skills.add(skill(id="s2", name="speed up data loading", trigger="gpu idle",
                     instructions=["raise num_workers"]), merge=False)
    q = "training loss nan"
    got = dict((s.id, sc) for s, sc in skills.retrieve_scored(q, tags=["nan"], k=2))
    hits = store.query(skills.name, embedder.embed([q])[0], limit=2)
    for h in hits:
        expected = score_skill(skills.weights, h.score, tokens(q), {"nan"}, skills.get(h.id), clock())
        assert got[h.id] == pytest.approx(expected, rel=1e-5)


def test_record_usage_counts_and_moves_confidence_and_score(make_banks, clock):
    skills, _, _ = make_banks()
    s = skills.add(skill(id="s"))
    q = "loss is nan"
    before = skills.retrieve_scored(q, k=1)[0][1]
    for _ in range(3):
        s = skills.record_usage("s", success=True)
    assert (s.usage_count, s.success_count, s.failure_count) == (3, 3, 0)
    assert s.confidence > 0.5 and s.last_used_at == clock()
    up = skills.retrieve_scored(q, k=1)[0][1]
    assert up > before
    for _ in range(4):
        s = skills.record_usage("s", success=False)
    assert s.failure_count == 4 and s.confidence < 0.5
    assert skills.get("s").usage_count == 7
    with pytest.raises(UserError):
        skills.record_usage("nope", True)


def test_near_duplicate_merges_instead_of_adding(make_banks):
    skills, _, _ = make_banks()
    a = skills.add(skill(id="a", usage_count=2, success_count=2, confidence=0.8, tags=["nan"]))
    b = skills.add(skill(id="b", usage_count=1, failure_count=1, confidence=0.2, tags=["lr"],
                         instructions=["Lower the learning rate by 10x and clip gradients.",
                                       "check the data for inf values"]))
    assert b.id == "a" and skills.count() == 1
    assert b.version == 2 and b.instructions == [TEXT["instructions"][0], "check the data for inf values"]
    assert (b.usage_count, b.success_count, b.failure_count) == (3, 2, 1)
    assert b.confidence == pytest.approx((0.8 * 3 + 0.2 * 2) / 5)
    assert b.tags == ["lr", "nan"]
    # a different stage or scope is never merged
    skills.add(skill(id="c", stage="coding"))
    skills.add(skill(id="d", scope="alice"))
    assert skills.count() == 3


def test_user_scoped_skills_never_reach_other_users(make_banks):
    skills, _, _ = make_banks()
    users = [f"user{i}" for i in range(12)]
    for u in users:
        skills.add(skill(id=f"sk-{u}", scope=u, name=f"private rule of {u}"), merge=False)
    skills.add(skill(id="sk-global", name="shared rule"), merge=False)
    for u in users:
        got = set(order(skills, "loss is nan", user_id=u, k=20))
        assert got == {f"sk-{u}", "sk-global"}
    assert order(skills, "loss is nan", k=20) == ["sk-global"]  # anonymous: global only


def test_cap_evicts_lowest_utility(make_banks, clock):
    skills, _, _ = make_banks(skill_cap=3)
    for i, conf in enumerate([0.9, 0.1, 0.5]):
        skills.add(skill(id=f"s{i}", name=f"rule {i} about {'abc'[i]}", confidence=conf), merge=False)
    skills.add(skill(id="new", name="brand new rule", trigger="oom", instructions=["halve the batch"],
                     confidence=0.05))  # lowest utility, but protected when just added
    assert sorted(s.id for s in skills.list()) == ["new", "s0", "s2"]


def test_export_import_round_trip(make_banks, tmp_path):
    skills, _, _ = make_banks()
    skills.add(skill(id="a", usage_count=3))
    skills.add(skill(id="b", stage="coding", name="x", instructions=["y"]))
    assert skills.export_jsonl(tmp_path / "s.jsonl") == 2
    for sid in ("a", "b"):
        skills.delete(sid)
    assert skills.count() == 0
    assert skills.import_jsonl(tmp_path / "s.jsonl") == 2
    assert skills.get("a").usage_count == 3 and skills.get("b").stage.value == "coding"
    (tmp_path / "bad.jsonl").write_text('{"name": "no stage"}\n')
    with pytest.raises(UserError, match="bad.jsonl:1"):
        skills.import_jsonl(tmp_path / "bad.jsonl")
