"""Simulated researchers for the benchmark suite.

`LLMPersona` role-plays a persona with a model (a hosted one when configured) and gives
free-form stage feedback. `DeterministicPersona` derives the feedback from the persona's
explicit preferences and the stage summary alone: it exists for offline tests and cheap
sweeps, and every report that used it says so (`kind` = "deterministic").
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from nanoresearch.llm.base import LLM
from nanoresearch.types import Phase, Resources, UserProfile

PERSONAS_FILE = Path(__file__).with_name("personas.yaml")
PHASE_FOCUS = {
    Phase.IDEATION: ("hypothesis", "baseline", "dataset", "method", "simple", "novel"),
    Phase.EXPERIMENT: ("seed", "ablation", "efficien", "time", "robust", "baseline", "split"),
    Phase.WRITING: ("writing", "limitation", "related", "claim", "formal", "short", "concise"),
}


def _stages_of(pref: str) -> set[Phase]:
    """The stage gates at which a researcher voices a preference: those whose focus words
    it names; one that names none ("explain which part causes the gain", "worst-case
    metrics next to averages") is about the paper, so it is voiced at the writing gate."""
    low = pref.lower()
    return {ph for ph, focus in PHASE_FOCUS.items() if any(f in low for f in focus)} or {Phase.WRITING}


_FILLER = {"which", "about", "their", "there", "every", "report", "methods", "metrics", "results", "other"}


def _seen(pref: str, summary: str) -> bool:
    """The stage result shows the preference when it names at least two thirds of the
    preference's content words: one common word ("which", "metrics") is not enough."""
    words = [w for w in re.findall(r"[a-z][a-z\-]{4,}", pref.lower()) if w not in _FILLER]
    return not words or sum(w in summary for w in words) * 3 >= len(words) * 2


class Persona(BaseModel):
    id: str
    name: str
    preferences: list[str]
    dislikes: list[str] = []
    profile: dict[str, Any] = {}
    tasks: list[str] = []

    def user_profile(self, user_id: str | None = None) -> UserProfile:
        prof = dict(self.profile)
        res = Resources(**prof.pop("resources", {}))
        return UserProfile(user_id=user_id or f"persona-{self.id}", name=self.name,
                           resources=res, **prof)


def load_personas(path: Path = PERSONAS_FILE) -> dict[str, Persona]:
    return {p["id"]: Persona(**p) for p in yaml.safe_load(path.read_text())}


class DeterministicPersona:
    kind = "deterministic"

    def __init__(self, persona: Persona):
        self.persona = persona

    def __call__(self, phase: Phase, summary: str) -> str:
        s = summary.lower()
        prefs = [p for p in self.persona.preferences if phase in _stages_of(p)] or self.persona.preferences[:1]
        missing = [p for p in prefs if not _seen(p, s)]
        parts = [f"Please make sure of: {'; '.join(missing)}." if missing else
                 f"Good: this respects {prefs[0]}. Keep doing that."]
        if self.persona.dislikes:
            parts.append(f"Avoid {self.persona.dislikes[0]}.")
        return " ".join(parts)


class LLMPersona:
    kind = "llm"

    def __init__(self, persona: Persona, llm: LLM):
        self.persona, self.llm = persona, llm

    def __call__(self, phase: Phase, summary: str) -> str:
        p = self.persona
        sys = (f"You are {p.name}, a researcher. You value: {'; '.join(p.preferences)}. "
               f"You dislike: {'; '.join(p.dislikes)}. Give 1-3 sentences of direct feedback "
               "on the stage result, consistent with your values.")
        out = self.llm.generate([{"role": "system", "content": sys},
                                 {"role": "user", "content": f"{phase.value} stage result:\n{summary[:1500]}"}],
                                max_tokens=96, temperature=0.0)
        text = out.text.strip()
        # a tiny model can answer with nothing usable; fall back to the explicit preferences
        return text if len(text.split()) >= 4 else DeterministicPersona(p)(phase, summary)
