"""Reflection: one stage's trajectory -> skill candidates + memory candidates.

Two extractors, both always run, and the banks' `add` merges what they propose:
- rules (deterministic, evidence only): a failed event followed by a successful
  event of the same step becomes a debugging skill (trigger = the error, instruction =
  the action that worked) and a failed_direction memory; failures never fixed become
  failed_direction memories; events marked as outcomes (detail["category"], or a step
  named outcome/result/analysis/verdict) become memories of that category.
- the LLM, asked for a small JSON object (prompts/reflection.yaml). The embedded model
  is tiny, so its output is validated and dropped when unusable; `last_report` says
  which path produced what.

Skills are user-scoped by default (`skill_scope="user"`): one user's errors and topics are
never shown to another user, and each user's scope has its own eviction cap. Global
skills are only the seeded/curated ones (`StoreService.seed_skills`). Tags and memory
conditions come from the trajectory's task conditions (domain, dataset, task, method,
metric, ...) plus the error class. The model's drafts pass a gate before they are kept:
the instruction must be concrete (4+ words) and grounded (share a content word with the
events); a failed gate is reported, never silently kept.
"""
from __future__ import annotations

import logging
import re
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, Field, field_validator

from nanoresearch.errors import ModelError
from nanoresearch.llm.base import LLM
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import MemoryEntry, SkillEntry, SkillStage, Trajectory, TrajectoryEvent
from storage.scoring import tokens

log = logging.getLogger(__name__)
OUTCOME_STEP = re.compile(r"outcome|result|analysis|verdict", re.I)
CONDITION_KEYS = ("dataset", "method", "metric", "task", "budget", "failure")
MEMORY_CATEGORIES = ("preference", "resource_limit", "decision", "hypothesis", "validated_config",
                     "failed_direction", "outcome", "fact", "requirement")
USER_BOUND = "user"  # detail["bound"] == "user": the memory holds for all the user's projects
_ERR_NAME = re.compile(r"\b([A-Z][A-Za-z]*(?:Error|Exception|Warning))\b")


class SkillDraft(BaseModel):
    name: str = Field(min_length=3)
    stage: SkillStage
    trigger: str = ""
    instruction: str = Field(min_length=5)
    tags: list[str] = Field(default_factory=list)

    # truncate instead of max_length: llama.cpp turns maxLength into a grammar
    # repetition that made constrained decoding crawl (minutes for one reply)
    @field_validator("name", "trigger", "instruction", mode="before")
    @classmethod
    def _clip(cls, v):
        return v[:300] if isinstance(v, str) else v


class MemoryDraft(BaseModel):
    category: Literal["preference", "resource_limit", "decision", "hypothesis",
                      "validated_config", "failed_direction", "outcome", "fact"]
    content: str = Field(min_length=8)

    @field_validator("content", mode="before")
    @classmethod
    def _clip(cls, v):
        return v[:400] if isinstance(v, str) else v


class ReflectionOut(BaseModel):
    skills: list[SkillDraft] = Field(default_factory=list)
    memories: list[MemoryDraft] = Field(default_factory=list)

    @field_validator("skills", "memories")
    @classmethod
    def _at_most_three(cls, v: list) -> list:
        return v[:3]  # a chatty model's extra items are dropped, not a reason to re-ask


def _prompts() -> dict:
    return yaml.safe_load(resources.files("actors").joinpath("prompts/reflection.yaml").read_text())


def _short(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _is_review(ev: TrajectoryEvent) -> bool:
    """A blueprint critique round or a paper review round (actors/phases.py records both
    as not ok while the reviewer still asks for changes)."""
    return ev.step == "review" or (ev.step == "blueprint" and ev.action.startswith("review round"))


def _signature(outcome: str) -> str:
    """The line of an error output that names the error, else its last non-empty line."""
    lines = [ln.strip() for ln in str(outcome).splitlines() if ln.strip()]
    named = [ln for ln in lines if _ERR_NAME.search(ln)]
    return _short((named or lines or ["failed"])[-1], 160)


class Reflector:
    def __init__(self, llm: LLM | None = None, skill_scope: Literal["global", "user"] = "user",
                 retries: int = 1, max_events: int = 20, max_tokens: int = 256):
        self.llm = llm
        self.max_tokens = max_tokens
        self.skill_scope = skill_scope
        self.retries = retries
        self.max_events = max_events
        self.last_report: dict = {}

    # ------------------------------------------------------------- public
    def distill(self, trajectory: Trajectory) -> tuple[list[SkillEntry], list[MemoryEntry]]:
        skills, memories = self.rule_based(trajectory)
        report = {"trajectory_id": trajectory.id, "rule_skills": len(skills),
                  "rule_memories": len(memories), "llm": "not configured"}
        if self.llm is not None and trajectory.events:
            try:
                out = self._ask(trajectory)
                kept = [d for d in out.skills if self.passes_gate(trajectory, d)]
                llm_skills = [self._skill(trajectory, d) for d in kept]
                llm_mems = [self._memory(trajectory, d.category, d.content, 0.5) for d in out.memories]
                skills += llm_skills
                memories += llm_mems
                report.update(llm="ok", llm_skills=len(llm_skills), llm_memories=len(llm_mems),
                              llm_skills_gated_out=len(out.skills) - len(kept))
            except ModelError as e:
                log.info("reflection LLM output unusable for %s, rules only: %s", trajectory.id, e)
                report["llm"] = f"unusable: {str(e)[:200]}"
        self.last_report = report
        return skills, memories

    # ------------------------------------------------------------- LLM path
    @staticmethod
    def passes_gate(tr: Trajectory, d: SkillDraft) -> bool:
        """A model-written skill is kept only when concrete and grounded in the events."""
        ins = tokens(d.instruction)
        seen = tokens(" ".join(f"{e.action} {e.outcome}" for e in tr.events) + " " + tr.topic)
        return len(d.instruction.split()) >= 4 and bool(ins & seen)

    def _ask(self, tr: Trajectory) -> ReflectionOut:
        p = _prompts()
        events = tr.events[-self.max_events:]
        lines = "\n".join(f"- {e.step} {'ok' if e.ok else 'FAILED'}: {_short(e.action, 100)} -> "
                          f"{_short(e.outcome, 120)}" for e in events)
        user = p["user"].format(phase=tr.phase.value, domain=tr.domain, topic=_short(tr.topic, 200),
                                events=lines)
        out, _ = generate_structured(self.llm, [{"role": "system", "content": p["system"]},
                                                {"role": "user", "content": user}],
                                     ReflectionOut, retries=self.retries,
                                     max_tokens=self.max_tokens)
        return out

    # ------------------------------------------------------------- rules
    def rule_based(self, tr: Trajectory) -> tuple[list[SkillEntry], list[MemoryEntry]]:
        skills, memories = [], []
        for i, ev in enumerate(tr.events):
            if not ev.ok and _is_review(ev):  # a reviewer's requests: feedback, not a dead end
                text = f"{ev.step}: {_short(ev.action, 120)}; the reviewer asked: {_short(ev.outcome, 240)}"
                memories.append(self._memory(tr, "outcome", text, 0.5, ev))
                # requests a later round accepted as met: what the next draft should have
                # from the start, a skill of the stage that writes that draft
                if ev.outcome.strip() and any(e.ok and _is_review(e) and e.step == ev.step
                                              for e in tr.events[i + 1:]):
                    skills.append(self._review_skill(tr, ev))
            elif not ev.ok:
                fix = next((e for e in tr.events[i + 1:] if e.ok and e.step == ev.step), None)
                sig = _signature(ev.outcome)
                if fix is not None:
                    skills.append(self._debug_skill(tr, ev, fix, sig))
                text = f"{ev.step}: '{_short(ev.action, 120)}' failed with {sig}"
                text += f"; fixed by: {_short(fix.action, 160)}" if fix else "; not fixed"
                memories.append(self._memory(tr, "failed_direction", text, 0.6, ev))
            elif (cat := self._outcome_category(ev)) is not None:
                text = f"{ev.step}: {_short(ev.outcome or ev.action, 300)}"
                memories.append(self._memory(tr, cat, text, 0.7, ev))
        return skills, memories

    @staticmethod
    def _outcome_category(ev: TrajectoryEvent) -> str | None:
        cat = ev.detail.get("category")
        if cat in MEMORY_CATEGORIES:
            return cat
        return "outcome" if OUTCOME_STEP.search(ev.step) else None

    def _debug_skill(self, tr: Trajectory, failed: TrajectoryEvent, fix: TrajectoryEvent,
                     sig: str) -> SkillEntry:
        err = _ERR_NAME.search(sig)
        err_class = err.group(1) if err else str(failed.detail.get("failure", ""))
        conds = {**tr.conditions, **{k: str(failed.detail[k]) for k in CONDITION_KEYS
                                     if failed.detail.get(k)}}
        where = ", ".join(f"{k} {conds[k]}" for k in ("dataset", "method") if conds.get(k))
        # the trigger starts at the error's name ("exception: ValueError: ..." -> "ValueError: ...")
        trigger = sig[err.start():] if err else (f"{err_class}: {sig}" if err_class and
                                                 err_class not in sig else sig)
        return SkillEntry(
            stage=SkillStage.DEBUGGING, domain=tr.domain, name=_short(f"fix {trigger}", 100),
            trigger=trigger,
            when_to_use=f"when {failed.step} fails with: {sig}" + (f" ({where})" if where else ""),
            instructions=[_short(_fix_text(fix.action), 300)], tags=self._tags(tr, err_class),
            scope=self._scope(tr), confidence=0.6, source_trajectory_id=tr.id)

    def _review_skill(self, tr: Trajectory, ev: TrajectoryEvent) -> SkillEntry:
        """A blueprint critique (planning) or a paper review (writing) that a later round
        passed: address those requests in the first draft of a study like this one."""
        planning = ev.step == "blueprint"
        what = "blueprint" if planning else "paper"
        where = ", ".join(str(tr.conditions[k]) for k in ("task", "dataset") if tr.conditions.get(k))
        issues = [str(i) for i in ev.detail.get("issues", []) if i]
        return SkillEntry(
            stage=SkillStage.PLANNING if planning else SkillStage.WRITING, domain=tr.domain,
            name=_short(f"anticipate the {what} reviewer" + (f": {', '.join(issues)}" if issues else
                                                             f" on {where or tr.domain}"), 100),
            when_to_use=f"writing the first {what} of a {tr.domain} study" + (f" ({where})" if where else ""),
            instructions=[_short(f"address from the first draft what the {what} reviewer asked for "
                                 f"(accepted in a later round): {ev.outcome}", 300)],
            tags=self._tags(tr, "review", *issues), scope=self._scope(tr), confidence=0.5,
            source_trajectory_id=tr.id)

    @staticmethod
    def _tags(tr: Trajectory, *extra: str) -> list[str]:
        vals = [v for k, v in tr.conditions.items() if k != "venue" for v in str(v).split(",")]
        return sorted({t.strip().lower() for t in (tr.domain, *vals, *extra)
                       if t and t.strip() and t != "general"})

    def _skill(self, tr: Trajectory, d: SkillDraft) -> SkillEntry:
        return SkillEntry(stage=d.stage, domain=tr.domain, name=_short(d.name, 100), trigger=d.trigger,
                          when_to_use=d.trigger, instructions=[d.instruction],
                          tags=sorted({*self._tags(tr), *(t.lower().strip() for t in d.tags if t.strip())}),
                          scope=self._scope(tr), confidence=0.4, source_trajectory_id=tr.id)

    def _memory(self, tr: Trajectory, category: str, content: str, importance: float,
                ev: TrajectoryEvent | None = None) -> MemoryEntry:
        conds = {"domain": tr.domain} if tr.domain and tr.domain != "general" else {}
        conds.update(tr.conditions)
        if ev is not None:
            conds.update({k: str(ev.detail[k]) for k in CONDITION_KEYS if ev.detail.get(k)})
        bound = ev is not None and ev.detail.get("bound") == USER_BOUND
        return MemoryEntry(user_id=tr.user_id, project_id=None if bound else tr.project_id,
                           category=category,
                           content=content, conditions=conds, importance=importance,
                           source_trajectory_id=tr.id)

    def _scope(self, tr: Trajectory) -> str:
        return tr.user_id if self.skill_scope == "user" else "global"


def _fix_text(action: str) -> str:
    """The fix itself: a debug event's action reads "fix (<source>): <what changed>"."""
    m = re.match(r"fix \(([^)]*)\):\s*(.*)", action, re.S)
    return m.group(2) if m and m.group(2).strip() else action
