from __future__ import annotations

import json

from nanoresearch.types import MemoryEntry, SkillEntry, SkillStage, UserProfile
from serve.planner_prompt import (Candidate, PlannerInput, build_messages, memory_candidate, parse_plan,
                                  profile_snapshot, skill_candidate)

INP = PlannerInput(stage="coding", task="Train a classifier on digits",
                   profile="field: ML, resources: 2 CPUs, 0 GPUs, 1 h",
                   skills=[Candidate(id="sk-1", text="scale features before LR")],
                   memories=[Candidate(id="mem-1", text="[resource_limit] no GPUs")])


def test_messages_carry_every_input_field():
    msgs = build_messages(INP)
    assert [m["role"] for m in msgs] == ["system", "user"]
    user = msgs[1]["content"]
    for piece in ("Stage: coding", "Train a classifier", "2 CPUs", "sk-1: scale features", "mem-1:",
                  "Request: Write the plan"):
        assert piece in user
    bare = build_messages(PlannerInput(stage="writing", task="t"))[1]["content"]
    assert "Candidate" not in bare and "profile" not in bare


def test_candidates_and_profile_are_short():
    s = SkillEntry(stage=SkillStage.CODING, name="scaler", when_to_use="x" * 500)
    m = MemoryEntry(user_id="u", content="prefers sklearn", category="preference")
    assert len(skill_candidate(s).text) <= 160 and skill_candidate(s).id == s.id
    assert memory_candidate(m).text == "[preference] prefers sklearn"
    p = UserProfile(user_id="u", research_field="NLP", methodological_preferences=["simple baselines"])
    assert "NLP" in profile_snapshot(p) and "simple baselines" in profile_snapshot(p)


def test_valid_json_plan():
    text = json.dumps({"selected_skill_ids": ["sk-1"], "selected_memory_ids": ["mem-1"],
                       "steps": ["load data", "fit"], "rationale": "small"})
    plan, path = parse_plan(f"Here you go:\n{text}\n", INP)
    assert path == "json" and plan.steps == ["load data", "fit"]
    assert plan.selected_skill_ids == ["sk-1"] and plan.selected_memory_ids == ["mem-1"]
    assert plan.stage == "coding" and plan.task == INP.task


def test_unknown_ids_dropped_and_fields_coerced():
    text = json.dumps({"selected_skill_ids": ["sk-1", "sk-404"], "selected_memory_ids": "mem-1",
                       "steps": "just do it", "rationale": "r"})
    plan, path = parse_plan(text, INP)
    assert path == "repaired"
    assert plan.selected_skill_ids == ["sk-1"] and plan.selected_memory_ids == ["mem-1"]
    assert plan.steps == ["just do it"]
    plan, path = parse_plan('{"steps": [], "rationale": "1. read papers\\n2. pick baselines"}', INP)
    assert path == "repaired" and plan.steps == ["read papers", "pick baselines"]


def test_plain_text_becomes_steps():
    plan, path = parse_plan("1. Load the digits data.\n2) Fit logistic regression\n- Report accuracy", INP)
    assert path == "text"
    assert plan.steps == ["Load the digits data.", "Fit logistic regression", "Report accuracy"]
    assert plan.selected_skill_ids == []
    plan, path = parse_plan("", INP)
    assert path == "text" and plan.steps == []


def test_plan_schema_restricts_ids_to_this_requests_candidates():
    from serve.planner_prompt import Candidate, PlannerInput, plan_schema

    inp = PlannerInput(stage="ideation", task="t", skills=[Candidate(id="sk-1", text="a"), Candidate(id="sk-2", text="b")])
    schema = plan_schema(inp)
    assert list(schema["properties"])[0] == "steps"
    assert schema["properties"]["selected_skill_ids"]["items"]["enum"] == ["sk-1", "sk-2"]
    assert "selected_memory_ids" not in schema["properties"]  # no candidates, no key
