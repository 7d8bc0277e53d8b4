"""Reflection: rule extraction from evidence, the LLM path, and its fallback."""
from __future__ import annotations

import pytest

from nanoresearch.embeddings import HashEmbedder
from nanoresearch.llm.scripted import ScriptedModel
from nanoresearch.types import Phase, Trajectory, TrajectoryEvent
from actors.reflection import Reflector
from storage.service import StoreService
from storage.vector_store import make_vector_store

TRACE = ("Traceback (most recent call last):\n  File \"run.py\", line 12, in <module>\n"
         "ValueError: Input X contains NaN.")


def trajectory(**kw) -> Trajectory:
    events = [
        TrajectoryEvent(step="run", action="python run.py", ok=False, outcome=TRACE,
                        detail={"dataset": "wine", "method": "logreg"}),
        TrajectoryEvent(step="patch", action="edit run.py"),
        TrajectoryEvent(step="run", action="add SimpleImputer(strategy='median') before the model",
                        outcome="exit 0, metrics written"),
        TrajectoryEvent(step="run", action="python run.py --seeds 5", ok=False, outcome="timeout after 600 s"),
        TrajectoryEvent(step="analysis", action="compare to baseline",
                        outcome="logreg+imputer reaches 0.95 accuracy vs 0.91 baseline"),
        TrajectoryEvent(step="config", action="kept lr=0.01", detail={"category": "validated_config"},
                        outcome="lr=0.01 with 3 seeds is stable"),
    ]
    base = dict(user_id="ana", project_id="p1", phase=Phase.EXPERIMENT, domain="tabular",
                topic="imputation for wine quality", events=events)
    base.update(kw)
    return Trajectory(**base)


def test_rules_turn_a_fixed_failure_into_a_skill_and_memories():
    skills, memories = Reflector().distill(trajectory())
    assert len(skills) == 1
    s = skills[0]
    assert s.stage.value == "debugging" and "ValueError: Input X contains NaN." in s.trigger
    assert s.instructions == ["add SimpleImputer(strategy='median') before the model"]
    assert "valueerror" in s.tags and s.scope == "ana" and s.source_trajectory_id  # user-scoped (M1)
    cats = [m.category for m in memories]
    assert cats == ["failed_direction", "failed_direction", "outcome", "validated_config"]
    fixed, unfixed = memories[0], memories[1]
    assert "fixed by" in fixed.content and fixed.conditions == {"domain": "tabular", "dataset": "wine",
                                                                "method": "logreg"}
    assert "not fixed" in unfixed.content and "timeout" in unfixed.content
    assert all(m.user_id == "ana" and m.project_id == "p1" for m in memories)
    assert "0.95" in memories[2].content


def test_llm_drafts_are_validated_and_added():
    llm = ScriptedModel([{"skills": [{"name": "impute before fitting", "stage": "coding",
                                      "trigger": "NaN in features", "instruction": "add an imputer step",
                                      "tags": ["sklearn"]}],
                          "memories": [{"category": "decision", "content": "chose median imputation"}]}])
    r = Reflector(llm, skill_scope="user")
    skills, memories = r.distill(trajectory())
    assert r.last_report["llm"] == "ok" and r.last_report["llm_skills"] == 1
    llm_skill = skills[-1]
    assert llm_skill.name == "impute before fitting" and llm_skill.scope == "ana"
    assert memories[-1].category == "decision"
    prompt = llm.calls[0][-1].content
    assert "FAILED" in prompt and "imputation for wine quality" in prompt


def test_unusable_llm_output_falls_back_to_rules():
    llm = ScriptedModel(["I think you should try harder.", '{"skills": [{"name": "x"}]}'])
    r = Reflector(llm, retries=1)
    skills, memories = r.distill(trajectory())
    assert r.last_report["llm"].startswith("unusable") and len(skills) == 1 and len(memories) == 4


def test_distilling_the_same_stage_twice_merges(tmp_path):
    svc = StoreService(make_vector_store("edge", str(tmp_path / "q")), HashEmbedder(), tmp_path, tmp_path)
    try:
        first = svc.add_distilled(*Reflector().distill(trajectory()))
        second = svc.add_distilled(*Reflector().distill(trajectory(id="tr-2")))
        assert svc.stats()["skills"] == 1 and svc.stats()["memories"] == 4
        assert second["skills"][0].id == first["skills"][0].id and second["skills"][0].version == 2
        assert all(m.support_count == 1 for m in second["memories"])
    finally:
        svc.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_reflection_with_the_embedded_model(settings):
    """The real tiny model: whatever it writes, distill returns validated entries and the
    evidence-based rule output is always there."""
    registry = pytest.importorskip("nanoresearch.llm.registry")
    llm = registry.make_llm("embedded:smollm2", settings)
    r = Reflector(llm, retries=0)
    skills, memories = r.distill(trajectory())
    assert r.last_report["llm"] == "ok" or r.last_report["llm"].startswith("unusable")
    assert any(s.trigger.startswith("ValueError") for s in skills)
    assert all(s.instructions and s.name for s in skills)
    assert len(memories) >= 4 and all(m.user_id == "ana" for m in memories)


def debug_trajectory() -> Trajectory:
    """What actors/learning_steps.record_debug writes for a failure fixed by a rule."""
    events = [
        TrajectoryEvent(step="run", action="attempt 1 of the experiment", ok=False,
                        outcome="exception: ConvergenceWarning: lbfgs failed to converge",
                        detail={"failure": "exception"}),
        TrajectoryEvent(step="run", action="fix (rule:scale): add StandardScaler before LogisticRegression",
                        outcome="resolved (succeeded)", detail={"fix_source": "rule:scale"}),
    ]
    return Trajectory(user_id="ana", project_id="p1", phase=Phase.EXPERIMENT, domain="tabular",
                      topic="wine", events=events,
                      conditions={"domain": "tabular", "dataset": "wine", "task": "classification",
                                  "method": "logreg", "venue": "neurips"})


def test_debug_skill_names_the_error_and_the_fix_with_task_tags():
    skills, memories = Reflector().distill(debug_trajectory())
    s = skills[0]
    assert s.trigger.startswith("ConvergenceWarning") and s.stage.value == "debugging"
    assert s.instructions == ["add StandardScaler before LogisticRegression"]
    assert {"tabular", "wine", "classification", "logreg", "convergencewarning"} <= set(s.tags)
    assert "neurips" not in s.tags and "wine" in s.when_to_use and s.scope == "ana"
    assert memories[0].conditions["dataset"] == "wine" and memories[0].conditions["venue"] == "neurips"


def test_model_skills_must_pass_the_gate():
    llm = ScriptedModel([{"skills": [
        {"name": "be careful", "stage": "coding", "trigger": "always", "instruction": "think harder about it"},
        {"name": "scale inputs", "stage": "coding", "trigger": "lbfgs warning",
         "instruction": "add StandardScaler before any linear model"}], "memories": []}])
    r = Reflector(llm)
    skills, _ = r.distill(debug_trajectory())
    assert r.last_report["llm_skills"] == 1 and r.last_report["llm_skills_gated_out"] == 1
    assert skills[-1].name == "scale inputs" and "wine" in skills[-1].tags


def test_user_skills_stay_with_their_user_and_seeded_ones_are_global(tmp_path):
    from nanoresearch.scaffolds import scaffold_skills
    svc = StoreService(make_vector_store("edge", str(tmp_path / "q")), HashEmbedder(), tmp_path,
                       tmp_path, skill_cap=3)
    try:
        assert svc.seed_skills(scaffold_skills()) == len(scaffold_skills())
        assert svc.seed_skills(scaffold_skills()) == 0  # idempotent
        svc.add_distilled(*Reflector().distill(debug_trajectory()))
        q = "ConvergenceWarning lbfgs failed to converge"
        ana = svc.retrieve_skills(q, stage="debugging", user_id="ana")
        bob = svc.retrieve_skills(q, stage="debugging", user_id="bob")
        assert ana and all(s.scope in ("ana", "global") for s in ana)
        assert not [s for s in bob if s.scope == "ana"]
        # the per-user cap evicts within ana's scope only; the seeded global ones stay
        for i in range(5):
            tr = debug_trajectory().model_copy(update={"id": f"tr-{i}"})
            tr.events[0].outcome = f"exception: Err{i}Error: distinct failure number {i} in module m{i}"
            tr.events[1].action = f"fix (rule): distinct remedy {i} for module m{i} applied"
            svc.add_distilled(*Reflector().distill(tr))
        assert len(svc.list_skills("ana")) - len(scaffold_skills()) == 3
        assert len([s for s in svc.list_skills() if s.scope == "global"]) == len(scaffold_skills())
    finally:
        svc.close()
