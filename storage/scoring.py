"""Retrieval scores for skills and memories: weights in one pydantic config, the formula
in one docstring (`score_skill` / `score_memory` follow it; tests check it).

Retrieval is two-stage: Qdrant returns `candidates` nearest neighbours with the
isolation/condition filter inside the query, then this heuristic re-ranks them.
"""
from __future__ import annotations

import math
import re
import time

from pydantic import BaseModel, Field

from nanoresearch.types import MemoryEntry, SkillEntry

_WORD = re.compile(r"[a-z0-9][a-z0-9_+.-]*[a-z0-9+]|[a-z0-9]")
STOPWORDS = frozenset(
    "a an and are as at be by for from has have how if in into is it its of on or that the "
    "this to was were when where which while with use using used should can do does not no "
    "than then there these those we you your our i".split())
DAY = 86400.0


def tokens(text: str) -> set[str]:
    """Lower-cased content words; used for keyword match and near-duplicate overlap."""
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def overlap(a: set[str], b: set[str]) -> float:
    """Overlap coefficient |a & b| / min(|a|, |b|): a short rule contained in a longer
    one still counts as a duplicate, which Jaccard would miss."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


class RetrievalWeights(BaseModel):
    """Weights and constants of the retrieval score. See `score_skill` for the formula."""

    candidates: int = Field(default=50, ge=1, description="vector candidates fetched before re-ranking")
    w_similarity: float = Field(default=1.0, ge=0)
    w_keyword: float = Field(default=0.6, ge=0)
    w_tag: float = Field(default=0.4, ge=0)
    w_recency: float = Field(default=0.3, ge=0)
    w_usage: float = Field(default=0.3, ge=0, description="skills only")
    w_confidence: float = Field(default=0.5, ge=0, description="skills only")
    w_importance: float = Field(default=0.5, ge=0, description="memories only")
    w_support: float = Field(default=0.4, ge=0, description="memories only")
    skill_half_life_days: float = Field(default=60.0, gt=0)
    memory_half_life_days: float = Field(default=30.0, gt=0)
    usage_saturation: int = Field(default=20, ge=1, description="uses at which the usage term reaches 1")
    confidence_rate: float = Field(default=0.2, gt=0, le=1, description="EMA step of confidence updates")
    merge_similarity: float = Field(default=0.97, gt=0, le=1, description="merge on vectors alone")
    merge_similarity_with_overlap: float = Field(default=0.80, gt=0, le=1)
    merge_token_overlap: float = Field(default=0.6, gt=0, le=1)


def recency(ref_time: float, now: float, half_life_days: float) -> float:
    age_days = max(0.0, now - ref_time) / DAY
    return 0.5 ** (age_days / half_life_days)


def keyword_match(query_tokens: set[str], text_tokens: set[str]) -> float:
    return len(query_tokens & text_tokens) / len(query_tokens) if query_tokens else 0.0


def tag_alignment(query_tags: set[str], tags: set[str]) -> float:
    return len(query_tags & tags) / len(query_tags) if query_tags else 0.0


def usage_term(usage_count: int, saturation: int) -> float:
    return min(1.0, math.log1p(usage_count) / math.log1p(saturation))


def support_term(support: int, contradiction: int) -> float:
    return (support + 1) / (support + contradiction + 2)


def score_skill(w: RetrievalWeights, sim: float, query_tokens: set[str], query_tags: set[str],
                skill: SkillEntry, now: float | None = None) -> float:
    """THE retrieval formulas (skills and memories).

    skill score =  w_similarity * max(0, cos)                  vector similarity from Qdrant
                 + w_keyword    * |q ∩ T| / |q|                q: query content words,
                                                               T: words of name/trigger/when/instructions/tags
                 + w_tag        * |qt ∩ tags| / |qt|           qt: requested tags (0 when none asked)
                 + w_recency    * 0.5 ** (age / skill_half_life)   age since last use (else update)
                 + w_usage      * min(1, ln(1+uses) / ln(1+usage_saturation))
                 + w_confidence * confidence

    memory score = w_similarity * max(0, cos)
                 + w_keyword    * |q ∩ T| / |q|                T: words of content + condition values
                 + w_tag        * |qc ∩ C| / |qc|              condition alignment: query condition
                                                               pairs the memory states explicitly
                 + w_recency    * 0.5 ** (age / memory_half_life)  age since last access (else update):
                                                               decay is applied at every retrieval
                 + w_importance * importance
                 + w_support    * (support + 1) / (support + contradiction + 2)

    Before scoring, memories whose conditions conflict with the query's are excluded in
    the Qdrant filter (never scored). Confidence after a use with outcome o in {0, 1}:
    confidence += confidence_rate * (o - confidence).
    """
    now = time.time() if now is None else now
    text = tokens(" ".join([skill.name, skill.trigger, skill.when_to_use, *skill.instructions,
                            *skill.tags]))
    ref = skill.last_used_at or skill.updated_at
    return (w.w_similarity * max(0.0, sim)
            + w.w_keyword * keyword_match(query_tokens, text)
            + w.w_tag * tag_alignment(query_tags, {t.lower() for t in skill.tags})
            + w.w_recency * recency(ref, now, w.skill_half_life_days)
            + w.w_usage * usage_term(skill.usage_count, w.usage_saturation)
            + w.w_confidence * skill.confidence)


def score_memory(w: RetrievalWeights, sim: float, query_tokens: set[str],
                 query_conditions: set[tuple[str, str]], mem: MemoryEntry,
                 mem_conditions: set[tuple[str, str]], now: float | None = None) -> float:
    """See `score_skill` for the formula."""
    now = time.time() if now is None else now
    text = tokens(" ".join([mem.content, *mem.conditions.values()]))
    ref = max(mem.updated_at, mem.last_accessed_at or 0.0)
    return (w.w_similarity * max(0.0, sim)
            + w.w_keyword * keyword_match(query_tokens, text)
            + w.w_tag * tag_alignment(query_conditions, mem_conditions)
            + w.w_recency * recency(ref, now, w.memory_half_life_days)
            + w.w_importance * mem.importance
            + w.w_support * support_term(mem.support_count, mem.contradiction_count))


def update_confidence(confidence: float, success: bool, rate: float) -> float:
    return min(1.0, max(0.0, confidence + rate * ((1.0 if success else 0.0) - confidence)))
