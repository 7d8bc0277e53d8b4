from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.personas import DeterministicPersona, LLMPersona, load_personas
from nanoresearch.llm.scripted import ScriptedModel
from nanoresearch.types import Phase, ResearchTopic

TASKS = sorted((Path(__file__).parents[2] / "benchmarks" / "tasks").glob("*.json"))
DOMAINS = {"nlp", "cv", "multimodal", "tabular", "timeseries", "graph", "audio"}


def test_twenty_tasks_validate_and_span_seven_domains():
    topics = [ResearchTopic.model_validate_json(p.read_text()) for p in TASKS]
    assert len(topics) == 20
    assert {t.domain for t in topics} == DOMAINS
    assert len({t.question_id for t in topics}) == 20
    for t in topics:
        raw = json.loads((TASKS[0].parent / f"{t.question_id}.json").read_text())
        assert set(raw) == {"question_id", "domain", "difficulty", "background", "problem_statement",
                            "baselines", "datasets", "user_requirements", "extra_context"}
        assert t.user_requirements and t.baselines and t.datasets


@pytest.mark.parametrize("path", TASKS, ids=[p.stem for p in TASKS])
def test_task_datasets_load_offline(path):
    from nanoresearch.datasets import get_catalog, load

    topic = ResearchTopic.model_validate_json(path.read_text())
    catalog = get_catalog()
    for name in topic.datasets:
        assert name in catalog, f"{topic.question_id}: {name} not in the offline catalog"
        assert catalog[name].domain == topic.domain
        assert load(name) is not None


def test_personas_bind_tasks_and_give_feedback():
    personas = load_personas()
    assert len(personas) >= 10
    ids = {p.stem for p in TASKS}
    for p in personas.values():
        assert set(p.tasks) <= ids
        prof = p.user_profile()
        assert prof.resources.cpus >= 1
    frugal = DeterministicPersona(personas["frugal"])
    fb = frugal(Phase.EXPERIMENT, "3 runs, accuracy 0.91")
    assert "efficiency" in fb.lower()
    fb2 = frugal(Phase.EXPERIMENT, "efficiency analysis: time and memory measured on one cpu core")
    assert fb2.startswith("Good")


def test_a_preference_no_stage_names_is_voiced_at_the_writing_gate_as_a_form():
    from storage.requirements import parse_forms

    personas = load_personas()
    fb = DeterministicPersona(personas["ablation_lover"])(Phase.WRITING, "the paper reports accuracy")
    assert "which part causes the gain" in fb
    assert {"artifact": "paper", "field": "mentions", "value": "gain_attribution"} in parse_forms(fb)
    # one common word of the preference in the stage result does not make it met
    assert "which part causes the gain" in DeterministicPersona(personas["ablation_lover"])(
        Phase.WRITING, "the table shows which method is best")
    fb2 = DeterministicPersona(personas["robustness"])(Phase.WRITING, "the paper reports accuracy")
    assert "worst-case" in fb2 and "worst-case" not in DeterministicPersona(personas["robustness"])(
        Phase.EXPERIMENT, "the paper reports accuracy")


def test_llm_persona_falls_back_when_model_says_nothing():
    p = load_personas()["repro_first"]
    assert LLMPersona(p, ScriptedModel(["Please add seeds and error bars now."]))(Phase.EXPERIMENT, "x") \
        == "Please add seeds and error bars now."
    assert "seed" in LLMPersona(p, ScriptedModel([""]))(Phase.EXPERIMENT, "x").lower()
