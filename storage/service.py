"""StoreService: the one object the rest of the system talks to for skills, memories,
profiles and the project registry.

Plain Python; `storage/ray_store.py` wraps it in a Ray actor when one process must own
an embedded store. All calls hold one lock, so threads (or an actor with concurrency)
never interleave a read-modify-write such as `record_skill_usage`.

    svc = open_store(settings)                     # settings.storage picks the backend
    svc.retrieve_skills("sklearn ConvergenceWarning", stage="debugging", user_id="ana")
    svc.retrieve_memories("learning rate", user_id="ana", conditions={"dataset": "mnist"})
"""
from __future__ import annotations

import functools
import json
import logging
import threading
from pathlib import Path
from typing import Any, Sequence

from nanoresearch.config import Settings
from nanoresearch.embeddings import Embedder, make_embedder
from nanoresearch.errors import UserError
from nanoresearch.types import (
    MemoryEntry, ProjectStatus, SkillEntry, SkillStage, Trajectory, UserProfile,
)
from storage.memory import MemoryModule
from storage.profiles import QUESTIONS, ProfileStore, profile_from_answers
from storage.projects import ProjectRecord, ProjectRegistry
from storage.scoring import RetrievalWeights
from storage.skills import SkillBank
from storage.vector_store import VectorStore, make_vector_store

log = logging.getLogger(__name__)


def _locked(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return fn(self, *args, **kwargs)
    return wrapper


class StoreService:
    def __init__(self, store: VectorStore, embedder: Embedder, store_dir: str | Path,
                 data_dir: str | Path, weights: RetrievalWeights | None = None,
                 skill_cap: int = 500, memory_cap: int = 2000):
        self._lock = threading.RLock()
        self.store = store
        self.skills = SkillBank(store, embedder, weights, cap_per_scope=skill_cap)
        self.memories = MemoryModule(store, embedder, weights, cap_per_scope=memory_cap)
        self.profiles = ProfileStore(Path(store_dir) / "profiles")
        self.projects = ProjectRegistry(data_dir)
        self._decay_dir = Path(store_dir) / "decay"

    # ------------------------------------------------------------- skills
    @_locked
    def retrieve_skills(self, query: str, stage: SkillStage | str | None = None,
                        user_id: str | None = None, tags: Sequence[str] = (), k: int = 5) -> list[SkillEntry]:
        return self.skills.retrieve(query, stage, user_id, tags, k)

    @_locked
    def retrieve_skills_scored(self, query: str, stage: SkillStage | str | None = None,
                               user_id: str | None = None, tags: Sequence[str] = (),
                               k: int = 5) -> list[tuple[SkillEntry, float]]:
        return self.skills.retrieve_scored(query, stage, user_id, tags, k)

    @_locked
    def add_skills(self, skills: Sequence[SkillEntry]) -> list[SkillEntry]:
        return self.skills.add_many(skills)

    @_locked
    def record_skill_usage(self, skill_id: str, success: bool) -> SkillEntry:
        return self.skills.record_usage(skill_id, success)

    @_locked
    def get_skill(self, skill_id: str) -> SkillEntry | None:
        return self.skills.get(skill_id)

    @_locked
    def list_skills(self, user_id: str | None = None, stage: SkillStage | str | None = None) -> list[SkillEntry]:
        return self.skills.list_for(user_id, stage)

    @_locked
    def delete_skill(self, skill_id: str, user_id: str | None = None, admin: bool = False) -> bool:
        """Delete a skill; with `user_id`, only that user's own: a global (curated) skill
        is shared by every user, so only the operator (`admin`, or no user) removes it."""
        s = self.skills.get(skill_id)
        if s is not None and user_id is not None and s.scope not in ("global", user_id):
            raise UserError(f"skill {skill_id!r} belongs to another user")
        if s is not None and user_id is not None and s.scope == "global" and not admin:
            raise UserError(f"skill {skill_id!r} is a global curated skill shared by every user; "
                            "the operator removes it (`nanoresearch skills delete ID` on the server)")
        return self.skills.delete(skill_id)

    @_locked
    def seed_skills(self, skills: Sequence[SkillEntry]) -> int:
        """Seed the curated global skills (e.g. `scaffold_skills()`) into a bank that has
        none of them yet; returns how many were added (0 when already seeded)."""
        have = {s.id for s in self.skills.list(self.skills.scope_filter("global"))}
        new = [s for s in skills if s.id not in have]
        if new:
            self.skills.add_many([s.model_copy(update={"scope": "global"}) for s in new], merge=False)
        return len(new)

    # ------------------------------------------------------------- memories
    @_locked
    def retrieve_memories(self, query: str, user_id: str, conditions: dict[str, str] | None = None,
                          project_id: str | None = None, k: int = 5,
                          categories: Sequence[str] = ()) -> list[MemoryEntry]:
        return self.memories.retrieve(query, user_id, conditions, project_id, k, categories=categories)

    @_locked
    def retrieve_memories_scored(self, query: str, user_id: str, conditions: dict[str, str] | None = None,
                                 project_id: str | None = None, k: int = 5) -> list[tuple[MemoryEntry, float]]:
        return self.memories.retrieve_scored(query, user_id, conditions, project_id, k)

    @_locked
    def add_memories(self, memories: Sequence[MemoryEntry]) -> list[MemoryEntry]:
        return self.memories.add_many(memories)

    @_locked
    def reinforce_memory(self, memory_id: str, supported: bool = True) -> MemoryEntry:
        return self.memories.reinforce(memory_id, supported)

    @_locked
    def decay_memories(self, user_id: str) -> dict[str, int]:
        """The decay schedule: once per finished project, the time since this user's last
        decay is applied to their idle memories (storage.memory.MemoryModule.decay)."""
        mark = self._decay_dir / f"{user_id}.json"
        now = self.memories.clock()
        last = json.loads(mark.read_text())["at"] if mark.exists() else now
        out = self.memories.decay(user_id, now - last, now)
        self._decay_dir.mkdir(parents=True, exist_ok=True)
        tmp = mark.with_suffix(".tmp")
        tmp.write_text(json.dumps({"at": now}))
        tmp.replace(mark)
        return out

    @_locked
    def requirements(self, user_id: str, project_id: str | None = None) -> list[MemoryEntry]:
        """The user's standing requirements (plus this project's own), whatever the query."""
        return [m for m in self.memories.list(self.memories.access_filter(
            user_id, project_id=project_id, categories=("requirement",))) if m.form]

    @_locked
    def get_memory(self, memory_id: str, user_id: str) -> MemoryEntry | None:
        m = self.memories.get(memory_id)
        return m if m is not None and m.user_id == user_id else None

    @_locked
    def list_memories(self, user_id: str, project_id: str | None = None) -> list[MemoryEntry]:
        return self.memories.list_for(user_id, project_id)

    @_locked
    def delete_memory(self, memory_id: str, user_id: str) -> bool:
        if self.get_memory(memory_id, user_id) is None:
            return False
        return self.memories.delete(memory_id)

    @_locked
    def learned(self, user_id: str, top: int = 10) -> dict[str, Any]:
        """What the system has learned about `user_id` (for `profile show` and the web
        page): standing requirements, memories by category, the user's own skills and
        every skill whose use was counted (global ones included). Delete with
        `delete_memory` / `delete_skill`."""
        mems = self.memories.list_for(user_id)
        by_cat: dict[str, int] = {}
        for m in mems:
            by_cat[m.category] = by_cat.get(m.category, 0) + 1
        skills = self.skills.list_for(user_id)
        brief = lambda s: {"id": s.id, "stage": s.stage.value, "name": s.name, "scope": s.scope,  # noqa: E731
                           "uses": s.usage_count, "successes": s.success_count,
                           "confidence": round(s.confidence, 3)}
        return {
            "user_id": user_id,
            "requirements": [{"id": m.id, "form": m.form, "text": m.content,
                              "project_id": m.project_id} for m in mems if m.category == "requirement"],
            "memories_by_category": by_cat,
            "memories": [{"id": m.id, "category": m.category, "content": m.content[:200],
                          "project_id": m.project_id, "importance": round(m.importance, 3)}
                         for m in sorted(mems, key=lambda m: -m.importance)[:top]
                         if m.category != "requirement"],
            "own_skills": [brief(s) for s in skills if s.scope == user_id],
            "skills_used": [brief(s) for s in sorted(skills, key=lambda s: -s.usage_count)
                            if s.usage_count > 0][:top],
        }

    # ------------------------------------------------------------- reflection
    def add_distilled(self, skills: list, memories: list) -> dict[str, Any]:
        """Store what reflection (actors/reflection.py, an agent: it calls a model) distilled
        from a stage, merging duplicates."""
        with self._lock:
            return {"skills": self.skills.add_many(skills), "memories": self.memories.add_many(memories)}

    # ------------------------------------------------------------- profiles
    def profile_questions(self) -> list[dict[str, Any]]:
        return [dict(q) for q in QUESTIONS]

    def get_profile(self, user_id: str, version: int | None = None) -> UserProfile | None:
        return self.profiles.get(user_id, version)

    def save_profile(self, profile: UserProfile) -> UserProfile:
        return self.profiles.save(profile)

    def save_profile_answers(self, user_id: str, answers: dict[str, Any]) -> UserProfile:
        return self.profiles.save(profile_from_answers(user_id, answers))

    # ------------------------------------------------------------- projects
    def create_project(self, user_id: str, title: str, project_id: str | None = None) -> ProjectRecord:
        return self.projects.create(user_id, title, project_id)

    def get_project(self, project_id: str, user_id: str | None = None) -> ProjectRecord:
        return self.projects.check_owner(project_id, user_id) if user_id else self.projects.get(project_id)

    def list_projects(self, user_id: str | None = None) -> list[ProjectRecord]:
        return self.projects.list(user_id)

    def set_project_status(self, project_id: str, status: ProjectStatus | str) -> ProjectRecord:
        return self.projects.set_status(project_id, status)

    # ------------------------------------------------------------- bulk
    @_locked
    def export_jsonl(self, directory: str | Path) -> dict[str, int]:
        d = Path(directory)
        return {"skills": self.skills.export_jsonl(d / "skills.jsonl"),
                "memories": self.memories.export_jsonl(d / "memories.jsonl")}

    @_locked
    def import_jsonl(self, directory: str | Path, merge: bool = False) -> dict[str, int]:
        d, out = Path(directory), {}
        for name, bank in (("skills", self.skills), ("memories", self.memories)):
            path = d / f"{name}.jsonl"
            out[name] = bank.import_jsonl(path, merge=merge) if path.exists() else 0
        return out

    @_locked
    def stats(self) -> dict[str, int]:
        return {"skills": self.skills.count(), "memories": self.memories.count(),
                "projects": len(self.projects.list()), "users": len(self.profiles.users())}

    @_locked
    def close(self) -> None:
        self.store.close()


def open_store(settings: Settings, embedder: Embedder | None = None,
               weights: RetrievalWeights | None = None) -> StoreService:
    """The plain entry point: a StoreService for `settings.storage` (edge by default,
    files under settings.store_dir). In embedded modes only one process may hold it."""
    st = settings.storage
    path = {"edge": settings.store_dir / "qdrant_edge",
            "local": settings.store_dir / "qdrant_local"}.get(st.backend)
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
    store = make_vector_store(st.backend, str(path) if path else None, st.qdrant_url, st.qdrant_api_key)
    emb = embedder or make_embedder(st.embedder)
    log.info("opened %s store (%s, embedder %s)", st.backend, path or st.qdrant_url, emb.name)
    return StoreService(store, emb, settings.store_dir, settings.data_dir, weights,
                        skill_cap=st.skill_cap_per_scope, memory_cap=st.memory_cap_per_scope)
