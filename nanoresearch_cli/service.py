"""ProjectService: what the HTTP API (serve/api.py) needs, over the real system.

Projects run in background threads of the process that hosts the API (a Ray Serve
replica, or uvicorn); each run is the same `compose.run_project` the CLI uses. Feedback
posted while a project runs is queued for the orchestrator and always logged for SDPO;
feedback on a finished stage trains the user's planner adapter in the background.
Every `user_id` call is scoped to that user (the store filters by user in the query).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from actors.feedback import QueuedFeedback
from nanoresearch.config import Settings
from nanoresearch.errors import UserError
from nanoresearch.types import (
    AdapterVersion, Feedback, MemoryEntry, Phase, ProjectState, ProjectStatus, ResearchTopic,
    SkillEntry, UserProfile, new_id,
)
from nanoresearch.workspace import Workspace

log = logging.getLogger(__name__)


class SystemProjectService:
    def __init__(self, settings: Settings, store: Any = None, use_ray: bool = True):
        from serve.auth import TokenAuth, tokens_path

        self.settings = settings
        self.use_ray = use_ray
        self._store = store
        self.auth = TokenAuth(tokens_path(settings.data_dir))
        self.feedback = QueuedFeedback(wait_s=0)
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    @property
    def store(self) -> Any:
        if self._store is None:
            if self.use_ray:
                from nanoresearch.ray_runtime import init_ray_for
                from storage.ray_store import connect_store
                init_ray_for(self.settings)  # join the data dir's Ray, not a fresh one
                self._store = connect_store(self.settings, detached=True)
            else:
                from storage.service import open_store
                self._store = open_store(self.settings)
        return self._store

    # ------------------------------------------------------------------ users
    def create_user(self, user_id: str, name: str = "") -> str:
        token = self.auth.issue(user_id)
        if self.store.get_profile(user_id) is None:
            self.store.save_profile(UserProfile(user_id=user_id, name=name))
        return token

    def profile_questions(self) -> list[dict]:
        return [{"id": q["field"], "question": q["prompt"], "type": q["type"],
                 **{k: q[k] for k in ("choices", "default") if k in q}}
                for q in self.store.profile_questions()]

    def save_profile(self, user_id: str, answers: dict) -> UserProfile:
        return self.store.save_profile_answers(user_id, answers)

    def get_profile(self, user_id: str) -> UserProfile | None:
        return self.store.get_profile(user_id)

    # ------------------------------------------------------------------ projects
    def _ws(self, project_id: str) -> Workspace:
        return Workspace(self.settings.projects_dir / project_id)

    def _state(self, project_id: str) -> ProjectState | None:
        p = self.settings.projects_dir / project_id / "project.json"
        return ProjectState.model_validate_json(p.read_text()) if p.exists() else None

    def create_project(self, user_id: str, topic: ResearchTopic) -> str:
        state = ProjectState(project_id=new_id("p-"), user_id=user_id, topic=topic)
        from actors.orchestrator import new_project
        new_project(self.settings.projects_dir, state)
        self._start(state)
        return state.project_id

    def _start(self, state: ProjectState) -> None:
        from nanoresearch_cli.compose import run_project

        if self.use_ray:  # the cycle runs in its detached orchestrator actor, not here
            run_project(self.settings, state, use_ray=True, wait_training=False,
                        detached=True, wait=False)
            return

        def work() -> None:
            try:
                run_project(self.settings, state, use_ray=self.use_ray, feedback=self.feedback,
                            wait_training=False)
            except Exception as e:  # recorded in project.json by the orchestrator
                log.error("project %s failed: %s", state.project_id, e)

        with self._lock:
            t = self._threads.get(state.project_id)
            if t is not None and t.is_alive():
                raise UserError(f"project {state.project_id} is already running")
            t = threading.Thread(target=work, name=f"project-{state.project_id}", daemon=True)
            self._threads[state.project_id] = t
            t.start()

    def list_projects(self, user_id: str) -> list[dict]:
        out = []
        root = self.settings.projects_dir
        for pj in sorted(root.glob("*/project.json")) if root.exists() else []:
            st = ProjectState.model_validate_json(pj.read_text())
            if st.user_id == user_id:
                out.append({"project_id": st.project_id, "status": st.status.value,
                            "title": st.topic.problem_statement[:120], "created_at": st.created_at,
                            "phase": st.phase.value if st.phase else None})
        return out

    def project_owner(self, project_id: str) -> str | None:
        st = self._state(project_id)
        return st.user_id if st else None

    def project_status(self, project_id: str) -> dict:
        st = self._state(project_id)
        if st is None:
            raise UserError(f"no project {project_id}")
        ws = self._ws(project_id)
        mans = {ph.value: ws.manifest(ph) for ph in Phase}
        return {"status": st.status.value, "phase": st.phase.value if st.phase else None,
                "manifests": {k: [s.model_dump(mode="json") for s in m.steps] for k, m in mans.items()},
                "phase_status": {k: m.status.value for k, m in mans.items()},
                "waiting_feedback_for": st.waiting_feedback_for.value if st.waiting_feedback_for else None,
                "topic": st.topic.model_dump(mode="json"), "error": st.error}

    def list_artifacts(self, project_id: str) -> list[str]:
        root = self._ws(project_id).root
        skip = {"project.json", "ledger.jsonl"}
        return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                      if p.is_file() and p.name not in skip and not p.name.startswith(".")
                      and "/data/" not in f"/{p.relative_to(root)}")

    def artifact_path(self, project_id: str, rel: str) -> Path:
        return self._ws(project_id).path(rel)

    def submit_feedback(self, feedback: Feedback) -> None:
        st = self._state(feedback.project_id)
        if st is None or st.user_id != feedback.user_id:
            raise UserError("no such project for this user")
        ws = self._ws(feedback.project_id)
        ws.write_json(f"{feedback.phase.value}/feedback_{feedback.feedback_id}.json", feedback)
        if st.status in (ProjectStatus.RUNNING, ProjectStatus.WAITING_FEEDBACK) \
                and not ws.step_done(feedback.phase, "feedback"):
            if self.use_ray:
                from nanoresearch_cli.ray_launch import send_feedback
                if send_feedback(self.settings, feedback.project_id, feedback):
                    return
            self.feedback.submit(feedback)  # the orchestrator picks it up and trains
        else:
            from nanoresearch_cli.compose import apply_feedback
            apply_feedback(self.settings, feedback, wait=False, use_ray=self.use_ray)

    def cancel(self, project_id: str) -> None:
        # in-process, a running step cannot be interrupted safely; the status tells the
        # orchestrator's next resume to start from the last finished step. With Ray the
        # orchestrator actor is stopped (steps are atomic: resume redoes only this one)
        if self.use_ray:
            from nanoresearch_cli.ray_launch import stop
            stop(self.settings, project_id)
        ws = self._ws(project_id)
        st = self._state(project_id)
        if st is not None:
            ws.write_json("project.json", st.model_copy(update={"status": ProjectStatus.CANCELLED}))

    def resume(self, project_id: str) -> None:
        st = self._state(project_id)
        if st is None:
            raise UserError(f"no project {project_id}")
        self._start(st)

    # ------------------------------------------------------------------ knowledge
    def search_skills(self, user_id: str, query: str, k: int) -> list[SkillEntry]:
        return self.store.retrieve_skills(query=query, user_id=user_id, k=k)

    def search_memories(self, user_id: str, query: str, k: int) -> list[MemoryEntry]:
        return self.store.retrieve_memories(query=query, user_id=user_id, k=k)

    def list_adapters(self, user_id: str) -> list[AdapterVersion]:
        from storage.adapters import AdapterRegistry
        return AdapterRegistry(self.settings.adapters_dir).list(user_id)
