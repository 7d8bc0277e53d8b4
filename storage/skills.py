"""Skill bank: compact procedural rules, shared globally or scoped to one user.

Retrieval: Qdrant nearest neighbours with the scope (global + this user only) and
stage filter inside the query, re-ranked by `storage.scoring.score_skill`. Applying
a skill is recorded with `record_usage`, which moves its usage counts and confidence
(the paper's own code never did, so its usage term was always zero).
"""
from __future__ import annotations

import logging
from typing import Sequence

from nanoresearch.errors import UserError
from nanoresearch.types import SkillEntry, SkillStage
from storage.bank import Bank
from storage.scoring import (
    overlap, recency, score_skill, tokens, update_confidence, usage_term,
)
from storage.vector_store import AnyOf, Eq, Filter

log = logging.getLogger(__name__)
GLOBAL = "global"


def merge_instructions(old: Sequence[str], new: Sequence[str], threshold: float = 0.8) -> list[str]:
    """Append the new instructions that are not already said (same words, mostly)."""
    out = list(old)
    for ins in new:
        t = tokens(ins)
        if ins.strip() and not any(ins.strip().lower() == o.strip().lower() or
                                   overlap(t, tokens(o)) >= threshold for o in out):
            out.append(ins.strip())
    return out


class SkillBank(Bank[SkillEntry]):
    collection = "skills"
    model = SkillEntry
    indexes = {"scope": "keyword", "stage": "keyword"}  # the fields retrieval filters on

    def text(self, s: SkillEntry) -> str:
        return ". ".join(p for p in [s.name, s.trigger, s.when_to_use, " ".join(s.instructions)] if p)

    def scope(self, s: SkillEntry) -> str:
        return s.scope

    def scope_filter(self, scope: str) -> Filter:
        return Filter(must=(Eq("scope", scope),))

    def dup_filter(self, s: SkillEntry) -> Filter:
        return Filter(must=(Eq("scope", s.scope), Eq("stage", s.stage.value)))

    def index_payload(self, s: SkillEntry) -> dict:
        return {"scope": s.scope, "stage": s.stage.value, "domain": s.domain,
                "tags": sorted({t.lower() for t in s.tags}), "updated_at": s.updated_at,
                "confidence": s.confidence}

    def utility(self, s: SkillEntry, now: float) -> float:
        """The query-independent part of the score: what eviction keeps."""
        w = self.weights
        return (w.w_recency * recency(s.last_used_at or s.updated_at, now, w.skill_half_life_days)
                + w.w_usage * usage_term(s.usage_count, w.usage_saturation)
                + w.w_confidence * s.confidence)

    def merge_into(self, old: SkillEntry, new: SkillEntry) -> SkillEntry:
        # confidence is a usage-weighted mean: a rule proven over 30 uses is not
        # dragged to 0.5 by a fresh duplicate with no track record
        wo, wn = old.usage_count + 1, new.usage_count + 1
        return old.model_copy(update=dict(
            version=max(old.version, new.version) + 1,
            instructions=merge_instructions(old.instructions, new.instructions),
            tags=sorted({*old.tags, *new.tags}),
            trigger=old.trigger or new.trigger,
            when_to_use=old.when_to_use or new.when_to_use,
            usage_count=old.usage_count + new.usage_count,
            success_count=old.success_count + new.success_count,
            failure_count=old.failure_count + new.failure_count,
            confidence=(old.confidence * wo + new.confidence * wn) / (wo + wn),
            created_at=min(old.created_at, new.created_at),
            updated_at=self.clock(),
            last_used_at=max(old.last_used_at or 0, new.last_used_at or 0) or None,
        ))

    # ------------------------------------------------------------- retrieval
    def access_filter(self, user_id: str | None, stage: SkillStage | str | None) -> Filter:
        scopes = (GLOBAL, user_id) if user_id else (GLOBAL,)
        must = [AnyOf("scope", scopes)]
        if stage is not None:
            must.append(Eq("stage", SkillStage(stage).value))
        return Filter(must=tuple(must))

    def retrieve_scored(self, query: str, stage: SkillStage | str | None = None,
                        user_id: str | None = None, tags: Sequence[str] = (), k: int = 5,
                        now: float | None = None) -> list[tuple[SkillEntry, float]]:
        """Top-k (skill, score): global skills plus `user_id`'s own, never another user's."""
        if k < 1:
            raise UserError(f"k={k}: ask for at least one skill")
        now = self.clock() if now is None else now
        vec = self.embedder.embed([query])[0]
        hits = self.store.query(self.name, vec, self.access_filter(user_id, stage),
                                limit=max(k, self.weights.candidates))
        q_tokens, q_tags = tokens(query), {t.lower() for t in tags}
        scored = []
        for h in hits:
            s = self._entry(h.payload)
            scored.append((s, score_skill(self.weights, h.score, q_tokens, q_tags, s, now)))
        scored.sort(key=lambda p: -p[1])
        return scored[:k]

    def retrieve(self, query: str, stage: SkillStage | str | None = None, user_id: str | None = None,
                 tags: Sequence[str] = (), k: int = 5, now: float | None = None) -> list[SkillEntry]:
        return [s for s, _ in self.retrieve_scored(query, stage, user_id, tags, k, now)]

    def record_usage(self, skill_id: str, success: bool, now: float | None = None) -> SkillEntry:
        """Count one application of a skill and move its confidence toward the outcome."""
        s = self.get(skill_id)
        if s is None:
            raise UserError(f"no skill {skill_id!r}; list skills with `nanoresearch skills list`")
        now = self.clock() if now is None else now
        s = s.model_copy(update=dict(
            usage_count=s.usage_count + 1,
            success_count=s.success_count + int(success),
            failure_count=s.failure_count + int(not success),
            confidence=update_confidence(s.confidence, success, self.weights.confidence_rate),
            last_used_at=now, updated_at=now))
        self.update_payloads([s])
        return s

    def list_for(self, user_id: str | None = None, stage: SkillStage | str | None = None) -> list[SkillEntry]:
        return self.list(self.access_filter(user_id, stage))

