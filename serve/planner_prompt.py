"""The planner's structured input and output.

PlannerInput (stage, task, profile snapshot, candidate skills and memories with ids,
request) -> chat messages (prompt text in serve/prompts/planner.yaml). The reply is a
small JSON object (PlannerOutput) parsed into a types.Plan with repair: ids that were not
among the candidates are dropped, and text that is not JSON becomes a plan whose steps
are the text's lines. `Plan.rationale` is left as the model wrote it; how the plan was
obtained ("json", "repaired", "text") is returned beside it so callers can record it.
"""
from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from nanoresearch.llm.structured import extract_json
from nanoresearch.types import MemoryEntry, Plan, SkillEntry, UserProfile

ParsePath = Literal["json", "repaired", "text"]
MAX_ITEM_CHARS = 160


class Candidate(BaseModel):
    """A skill or memory offered to the planner: an id and one short line of text."""

    id: str
    text: str


class PlannerInput(BaseModel):
    stage: str
    task: str
    request: str = "Write the plan for this task."
    profile: str = ""  # a one-paragraph snapshot, see profile_snapshot()
    skills: list[Candidate] = Field(default_factory=list)
    memories: list[Candidate] = Field(default_factory=list)


class PlannerOutput(BaseModel):
    selected_skill_ids: list[str] = Field(default_factory=list)
    selected_memory_ids: list[str] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    rationale: str = ""


@functools.lru_cache(maxsize=1)
def _prompts() -> dict[str, str]:
    return yaml.safe_load(resources.files("serve").joinpath("prompts/planner.yaml").read_text())


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ITEM_CHARS else text[: MAX_ITEM_CHARS - 3] + "..."


def skill_candidate(s: SkillEntry) -> Candidate:
    return Candidate(id=s.id, text=_short(f"{s.name}: {s.when_to_use or '; '.join(s.instructions[:2])}"))


def memory_candidate(m: MemoryEntry) -> Candidate:
    return Candidate(id=m.id, text=_short(f"[{m.category}] {m.content}"))


def profile_snapshot(p: UserProfile) -> str:
    parts = [f"field: {p.research_field}" if p.research_field else "",
             f"resources: {p.resources.cpus} CPUs, {p.resources.gpus} GPUs, {p.resources.hours:g} h",
             "prefers: " + "; ".join(p.methodological_preferences) if p.methodological_preferences else "",
             f"venue: {p.target_venue}" if p.target_venue else ""]
    return _short(", ".join(x for x in parts if x))


def build_messages(inp: PlannerInput) -> list[dict[str, str]]:
    """System + user messages; the engine applies the model's chat template."""
    pr = _prompts()
    items = lambda cs: "\n".join(f"- {c.id}: {_short(c.text)}" for c in cs)  # noqa: E731
    user = pr["user"].format(
        stage=inp.stage, task=_short(inp.task) if len(inp.task) > 400 else inp.task, request=inp.request,
        profile_block=pr["profile_block"].format(profile=inp.profile) if inp.profile else "",
        skills_block=pr["skills_block"].format(items=items(inp.skills)) if inp.skills else "",
        memories_block=pr["memories_block"].format(items=items(inp.memories)) if inp.memories else "")
    return [{"role": "system", "content": pr["system"]}, {"role": "user", "content": user}]


def output_schema() -> dict:
    """JSON schema for engines that constrain decoding (llama.cpp grammars, vLLM)."""
    return PlannerOutput.model_json_schema()


def plan_schema(inp: PlannerInput) -> dict:
    """The reply schema for one request: steps first (what the task needs most), then the
    ids, each restricted to this request's candidates (a key is left out when there are
    none), then a one-line rationale. Flat, so constrained or guided decoding always yields
    a parseable plan, even from a 135M model."""
    props: dict = {"steps": {"type": "array", "minItems": 3, "maxItems": 5,
                             "items": {"type": "string", "maxLength": 90}}}
    for key, cands in (("selected_skill_ids", inp.skills), ("selected_memory_ids", inp.memories)):
        if cands:
            props[key] = {"type": "array", "minItems": 0, "maxItems": min(4, len(cands)),
                          "items": {"enum": [c.id for c in cands]}}
    props["rationale"] = {"type": "string", "maxLength": 160}
    return {"type": "object", "properties": props, "required": list(props)}


_STEP_PREFIX = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)]|step\s*\d+\s*[:.)-]?)\s*", re.IGNORECASE)


def _steps_from_text(text: str) -> list[str]:
    lines = [_STEP_PREFIX.sub("", ln).strip() for ln in text.splitlines()]
    steps = [ln for ln in lines if len(ln) > 2 and not ln.startswith(("{", "}", "```"))]
    if not steps and text.strip():
        steps = [s.strip() for s in re.split(r"(?<=[.;])\s+", text.strip()) if s.strip()]
    return [_short(s) for s in steps[:8]]


def _coerce_list(v) -> list[str]:
    if isinstance(v, str):
        return [v]
    return [str(x) if not isinstance(x, dict) else json.dumps(x) for x in (v or [])]


def parse_plan(text: str, inp: PlannerInput) -> tuple[Plan, ParsePath]:
    """Parse the model's reply into a Plan; never raises. Path: 'json' (valid as given),
    'repaired' (JSON with unknown ids dropped or fields coerced), 'text' (no JSON)."""
    path: ParsePath = "json"
    try:
        raw = extract_json(text)
        if not isinstance(raw, dict):
            raise ValueError("not an object")
        try:
            out = PlannerOutput.model_validate(raw)
        except ValidationError:
            path = "repaired"
            out = PlannerOutput(**{k: _coerce_list(raw.get(k)) for k in
                                   ("selected_skill_ids", "selected_memory_ids", "steps")},
                                rationale=str(raw.get("rationale", "")))
    except (ValueError, TypeError):
        return Plan(stage=inp.stage, task=inp.task, steps=_steps_from_text(text)), "text"
    skill_ids = {c.id for c in inp.skills}
    mem_ids = {c.id for c in inp.memories}
    skills = [i for i in out.selected_skill_ids if i in skill_ids]
    mems = [i for i in out.selected_memory_ids if i in mem_ids]
    steps = [_short(s) for s in out.steps if s.strip()]
    if len(skills) != len(out.selected_skill_ids) or len(mems) != len(out.selected_memory_ids) or not steps:
        path = "repaired"
    if not steps:
        steps = _steps_from_text(out.rationale) or ["Carry out the task as described."]
    plan = Plan(stage=inp.stage, task=inp.task, selected_skill_ids=list(dict.fromkeys(skills)),
                selected_memory_ids=list(dict.fromkeys(mems)), steps=steps, rationale=out.rationale)
    return plan, path
