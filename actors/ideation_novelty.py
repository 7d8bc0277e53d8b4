"""Novelty verification and selection of the hypothesis to pursue.

Novelty = 1 - similarity to the closest paper found by a fresh search for the hypothesis,
tempered by a model judgment of whether that paper already tested it. The judgment is
optional evidence: when the model's answer is unusable the verdict says so and rests on
similarity alone.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from nanoresearch.errors import ModelError
from nanoresearch.literature.local import record_text
from nanoresearch.literature.text import is_placeholder, overlap, tokenize
from nanoresearch.llm.structured import generate_structured
from nanoresearch.types import (Hypothesis, LiteratureRecord, MemoryEntry, NoveltyVerdict,
                                ResearchTopic, UserProfile)

log = logging.getLogger(__name__)
HEAVY = ("pretrain", "pre-train", "billion", "large language model", "llm", "from scratch",
         "foundation model", "large-scale", "gpu", "diffusion", "reinforcement learning")
NOVEL_AT = 0.5


class NoveltyOut(BaseModel):
    already_done: bool
    reason: str = Field(default="", max_length=400)


def similarities(embedder: Any, text: str, others: list[str]) -> np.ndarray:
    if not others:
        return np.zeros(0)
    if embedder is None:
        return np.array([overlap(text, o) for o in others])
    v = np.asarray(embedder.embed([text] + others), dtype=np.float32)
    return np.clip(v[1:] @ v[0], 0.0, 1.0)


def verify(h: Hypothesis, candidates: list[LiteratureRecord], embedder: Any, llm: Any,
           render: Any, retries: int) -> NoveltyVerdict:
    if not candidates:
        return NoveltyVerdict(novel=True, score=1.0, rationale="no related paper found")
    sims = similarities(embedder, h.statement, [record_text(p) for p in candidates])
    i = int(np.argmax(sims))
    close, sim = candidates[i], float(sims[i])
    score = 1.0 - sim
    why = f"closest paper {close.id} \"{close.title[:120]}\" has similarity {sim:.2f}"
    try:
        judged, _ = generate_structured(
            llm, render("novelty", hypothesis=h.statement, paper_id=close.id, title=close.title,
                        abstract=close.abstract[:700]), NoveltyOut, retries=retries, max_tokens=120)
        if is_placeholder(judged.reason):  # copied the example answer: not a judgment
            raise ModelError("the judge copied the example answer")
        score = 0.7 * score + 0.3 * (0.0 if judged.already_done else 1.0)
        why += (f"; judge: {'already tested' if judged.already_done else 'not tested'}"
                f"{' - ' + judged.reason if judged.reason else ''}")
    except ModelError as e:
        why += f"; judge unusable ({e}), similarity only"
    score = float(min(max(score, 0.0), 1.0))
    return NoveltyVerdict(novel=score >= NOVEL_AT, score=score, closest_paper_id=close.id,
                          closest_similarity=sim, rationale=why)


def feasibility(h: Hypothesis, profile: UserProfile) -> float:
    """Penalise compute-heavy directions the researcher's resources cannot run."""
    text = f"{h.statement} {h.motivation}".lower()
    r = profile.resources
    f = 1.0
    if r.gpus == 0:
        f -= 0.3 * sum(w in text for w in HEAVY)
    if r.hours < 1.0 and re.search(r"\b(ensemble|search|sweep)\b", text):
        f -= 0.15
    return float(min(max(f, 0.05), 1.0))


def alignment(h: Hypothesis, topic: ResearchTopic, profile: UserProfile) -> float:
    """Share of what the researcher asked (the question itself, requirements, preferences,
    field, named baselines and datasets) that the hypothesis speaks to."""
    wants = set(tokenize(" ".join([topic.problem_statement, *topic.user_requirements,
                                   *profile.methodological_preferences, profile.research_field,
                                   *topic.baselines, *topic.datasets])))
    if not wants:
        return 0.5
    got = wants & set(tokenize(f"{h.statement} {h.expected_effect}"))
    return float(min(1.0, 0.2 + 0.8 * len(got) / len(wants)))


def failed_directions(memories: list[MemoryEntry]) -> list[MemoryEntry]:
    return [m for m in memories if m.category == "failed_direction"]


def repeats_failure(statement: str, failed: list[MemoryEntry], embedder: Any,
                    threshold: float) -> str | None:
    if not failed:
        return None
    sims = similarities(embedder, statement, [m.content for m in failed])
    i = int(np.argmax(sims))
    if sims[i] >= threshold:
        return f"repeats failed direction {failed[i].id} (similarity {sims[i]:.2f})"
    return None


def select(hyps: list[Hypothesis], topic: ResearchTopic, profile: UserProfile) -> Hypothesis:
    for h in hyps:
        h.feasibility = feasibility(h, profile)
        h.alignment = alignment(h, topic, profile)
        nov = h.novelty.score if h.novelty else 0.5
        h.score = round(0.4 * nov + 0.3 * h.feasibility + 0.3 * h.alignment, 4)
    return max(hyps, key=lambda h: h.score)
