"""Memory module: user-bound and project-bound records with conditions.

Strict condition matching happens inside the Qdrant filter: for every condition the
query states (dataset=mnist), a memory must either state a value that overlaps it or
not state that key at all. A memory recorded under dataset=cifar10 is therefore never
returned for dataset=mnist, however similar its text. Values of the list-like keys
(dataset, method, metric, task, domain) may name alternatives separated by commas
("mnist, fashion_mnist"); other keys (topic, budget, ...) are compared whole. Isolation: the user_id
equality is part of the same filter, so another user's memories never leave Qdrant.
"""
from __future__ import annotations

import logging
import re
from typing import Sequence

from nanoresearch.errors import UserError
from nanoresearch.types import MemoryEntry
from storage.bank import Bank
from storage.scoring import overlap, recency, score_memory, support_term, tokens
from storage.vector_store import AnyOf, Eq, Filter, IsEmpty

log = logging.getLogger(__name__)
NO_PROJECT = "-"
# conditions may use any key; these common ones get payload indexes (each index costs
# ~0.25 s to create on a fresh edge shard, so not every conceivable key gets one)
INDEXED_CONDITIONS = ("topic", "domain", "dataset", "method", "task")
_SYNONYMS = {"datasets": "dataset", "methods": "method", "topics": "topic", "domains": "domain",
             "tasks": "task", "metrics": "metric"}
_KEY = re.compile(r"[^a-z0-9_]+")
MULTI_VALUE = frozenset({"dataset", "method", "metric", "task", "domain"})


def normalise_conditions(conditions: dict[str, str] | None) -> dict[str, list[str]]:
    """{"Datasets": "MNIST, cifar-10"} -> {"dataset": ["cifar-10", "mnist"]}: keys
    lower-cased and singular, values lower-cased with whitespace collapsed; empty ones drop."""
    out: dict[str, list[str]] = {}
    for key, value in (conditions or {}).items():
        k = _KEY.sub("_", str(key).strip().lower()).strip("_")
        k = _SYNONYMS.get(k, k)
        parts = str(value).split(",") if k in MULTI_VALUE else [str(value)]
        vals = sorted({" ".join(v.lower().split()) for v in parts if v.strip()})
        if k and vals:
            out[k] = sorted(set(out.get(k, [])) | set(vals))
    return out


def conflicts(memory_conds: dict[str, list[str]], query_conds: dict[str, list[str]]) -> list[str]:
    """Keys both state with no value in common."""
    return [k for k, q in query_conds.items() if k in memory_conds and not set(q) & set(memory_conds[k])]


def condition_filter(query_conds: dict[str, list[str]]) -> tuple[Filter, ...]:
    return tuple(Filter(should=(AnyOf(f"cond.{k}", tuple(v)), IsEmpty(f"cond.{k}")))
                 for k, v in query_conds.items())


class MemoryModule(Bank[MemoryEntry]):
    collection = "memories"
    model = MemoryEntry
    indexes = {"user_id": "keyword", "project_key": "keyword", "category": "keyword",
               **{f"cond.{k}": "keyword" for k in INDEXED_CONDITIONS}}

    def text(self, m: MemoryEntry) -> str:
        conds = "; ".join(f"{k}: {v}" for k, v in sorted(m.conditions.items()))
        return f"{m.content} ({conds})" if conds else m.content

    def scope(self, m: MemoryEntry) -> str:
        return m.user_id

    def scope_filter(self, scope: str) -> Filter:
        return Filter(must=(Eq("user_id", scope),))

    def index_payload(self, m: MemoryEntry) -> dict:
        return {"user_id": m.user_id, "project_key": m.project_id or NO_PROJECT,
                "category": m.category, "cond": normalise_conditions(m.conditions),
                "updated_at": m.updated_at, "importance": m.importance}

    def dup_filter(self, m: MemoryEntry) -> Filter:
        # a duplicate must share user, project, category and state no conflicting condition
        conds = normalise_conditions(m.conditions)
        return Filter(must=(Eq("user_id", m.user_id), Eq("project_key", m.project_id or NO_PROJECT),
                            Eq("category", m.category), *condition_filter(conds)))

    def _find_duplicate(self, cand, vec):
        dup = super()._find_duplicate(cand, vec)
        # the filter lets a general memory absorb a specific one; require equal conditions
        if dup is not None and dup.id != cand.id and \
                (normalise_conditions(dup.conditions) != normalise_conditions(cand.conditions)
                 or dup.form != cand.form):  # two requirements said in one sentence stay two
            return None
        return dup

    def utility(self, m: MemoryEntry, now: float) -> float:
        w = self.weights
        ref = max(m.updated_at, m.last_accessed_at or 0.0)
        return (w.w_recency * recency(ref, now, w.memory_half_life_days)
                + w.w_importance * m.importance
                + w.w_support * support_term(m.support_count, m.contradiction_count))

    def merge_into(self, old: MemoryEntry, new: MemoryEntry) -> MemoryEntry:
        # seeing the same experience again is evidence for it: the repeat counts as support
        content = old.content
        if overlap(tokens(old.content), tokens(new.content)) >= 0.9 and len(new.content) > len(content):
            content = new.content
        return old.model_copy(update=dict(
            content=content,
            importance=max(old.importance, new.importance),
            support_count=old.support_count + new.support_count + 1,
            contradiction_count=old.contradiction_count + new.contradiction_count,
            created_at=min(old.created_at, new.created_at),
            updated_at=self.clock()))

    # ------------------------------------------------------------- retrieval
    def access_filter(self, user_id: str, conditions: dict[str, str] | None = None,
                      project_id: str | None = None, categories: Sequence[str] = ()) -> Filter:
        if not user_id:
            raise UserError("memory retrieval needs a user_id; memories are per user")
        must: list = [Eq("user_id", user_id)]
        if project_id:
            must.append(AnyOf("project_key", (project_id, NO_PROJECT)))
        if categories:
            must.append(AnyOf("category", tuple(categories)))
        must.extend(condition_filter(normalise_conditions(conditions)))
        return Filter(must=tuple(must))

    def retrieve_scored(self, query: str, user_id: str, conditions: dict[str, str] | None = None,
                        project_id: str | None = None, k: int = 5, categories: Sequence[str] = (),
                        now: float | None = None, touch: bool = True) -> list[tuple[MemoryEntry, float]]:
        """Top-k (memory, score) of `user_id` compatible with `conditions`; project-bound
        memories of other projects are left out when `project_id` is given. `touch`
        stamps last_accessed_at on what is returned."""
        if k < 1:
            raise UserError(f"k={k}: ask for at least one memory")
        now = self.clock() if now is None else now
        q_conds = normalise_conditions(conditions)
        hits = self.store.query(self.name, self.embedder.embed([query])[0],
                                self.access_filter(user_id, conditions, project_id, categories),
                                limit=max(k, self.weights.candidates))
        q_tokens = tokens(query)
        q_pairs = {(k_, v) for k_, vs in q_conds.items() for v in vs}
        scored = []
        for h in hits:
            m = self._entry(h.payload)
            m_conds = normalise_conditions(m.conditions)
            if m.user_id != user_id or conflicts(m_conds, q_conds):  # the filter already did this
                log.error("store filter leaked memory %s; dropped", m.id)
                continue
            m_pairs = {(k_, v) for k_, vs in m_conds.items() for v in vs}
            scored.append((m, score_memory(self.weights, h.score, q_tokens, q_pairs, m, m_pairs, now)))
        scored.sort(key=lambda p: -p[1])
        top = scored[:k]
        if touch and top:
            top = [(m.model_copy(update={"last_accessed_at": now}), s) for m, s in top]
            self.update_payloads([m for m, _ in top])
        return top

    def retrieve(self, query: str, user_id: str, conditions: dict[str, str] | None = None,
                 project_id: str | None = None, k: int = 5, **kw) -> list[MemoryEntry]:
        return [m for m, _ in self.retrieve_scored(query, user_id, conditions, project_id, k, **kw)]

    def reinforce(self, memory_id: str, supported: bool = True) -> MemoryEntry:
        """New evidence for (or against) a memory, e.g. a run that confirmed a config."""
        m = self.get(memory_id)
        if m is None:
            raise UserError(f"no memory {memory_id!r}; list them with `nanoresearch memories list`")
        field = "support_count" if supported else "contradiction_count"
        m = m.model_copy(update={field: getattr(m, field) + 1, "updated_at": self.clock()})
        self.update_payloads([m])
        return m

    def list_for(self, user_id: str, project_id: str | None = None) -> list[MemoryEntry]:
        return self.list(self.access_filter(user_id, project_id=project_id))

    def decay(self, user_id: str, elapsed_s: float, now: float | None = None,
              floor: float = 0.05) -> dict[str, int]:
        """Apply `elapsed_s` of decay to `user_id`'s idle memories (no access or update
        within one half-life): importance *= 0.5 ** (elapsed / half_life). A memory that
        falls below `floor` with no more support than contradiction is deleted; requirements
        never decay (the researcher removes them). Called once per finished project."""
        now = self.clock() if now is None else now
        hl = self.weights.memory_half_life_days * 86400.0
        factor = 0.5 ** (max(0.0, elapsed_s) / hl)
        changed, dropped = [], []
        for m in self.list_for(user_id):
            idle = now - max(m.updated_at, m.last_accessed_at or 0.0)
            if m.category == "requirement" or idle < hl or factor >= 1.0:
                continue
            imp = m.importance * factor
            if imp < floor and m.support_count <= m.contradiction_count:
                dropped.append(m.id)
            else:
                changed.append(m.model_copy(update={"importance": max(imp, 0.0)}))
        if changed:
            self.update_payloads(changed)
        if dropped:
            self.store.delete(self.name, dropped)
        return {"decayed": len(changed), "dropped": len(dropped)}
