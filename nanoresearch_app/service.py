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
import time
from pathlib import Path
from typing import Any

from actors.feedback import QueuedFeedback
from nanoresearch import artifacts as A
from nanoresearch.config import Settings
from nanoresearch.errors import UserError
from nanoresearch.project_view import ProjectView, load_view
from nanoresearch.types import (
    AdapterVersion, Feedback, KnowledgeView, MemoryEntry, Phase, ProjectState, ProjectStatus,
    ProjectStatusReport, ProjectSummary, ResearchTopic, SkillEntry, UserProfile, new_id,
)
from nanoresearch.workspace import Workspace
from nanoresearch_app.progress import EventLog, knowledge_view, latest_token_rate
from storage.projects import ProjectNotFound, ProjectRegistry

log = logging.getLogger(__name__)


class SystemProjectService:
    def __init__(self, settings: Settings, store: Any = None, use_ray: bool = True):
        from serve.auth import TokenAuth, tokens_path

        self.settings = settings
        self.use_ray = use_ray
        self._store = store
        self.auth = TokenAuth(tokens_path(settings.data_dir))
        # `feedback: http` waits at each stage gate (the deadline shows in the status); the
        # service has no terminal and no persona, so it says what it does with the others
        if settings.feedback == "simulated":
            raise UserError("feedback: simulated needs a simulated researcher (persona), which "
                            "only the benchmarks pass in; for the service choose http or skip")
        if settings.feedback == "interactive":
            log.warning("feedback: interactive has no terminal in the HTTP service: feedback "
                        "posted on the page is used when it arrives, never waited for; set "
                        "feedback: http to make each stage wait for it")
        self.feedback = QueuedFeedback(
            wait_s=settings.feedback_wait_s if settings.feedback == "http" else 0,
            inbox=settings.projects_dir)
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self.registry = ProjectRegistry(settings.data_dir)  # project.json: the one store

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
        try:
            return self.registry.state(project_id)
        except ProjectNotFound:
            return None

    def create_project(self, user_id: str, topic: ResearchTopic) -> str:
        state = ProjectState(project_id=new_id("p-"), user_id=user_id, topic=topic)
        from actors.orchestrator import new_project
        new_project(self.settings.projects_dir, state)
        self._start(state)
        return state.project_id

    def _start(self, state: ProjectState) -> None:
        from nanoresearch_app.compose import run_project

        if self.use_ray:  # the cycle runs in its detached orchestrator actor, not here,
            # with the service's gate policy (a copy: posts reach it by send_feedback / inbox)
            run_project(self.settings, state, use_ray=True, feedback=self.feedback,
                        wait_training=False, detached=True, wait=False)
            return

        events = EventLog(self._ws(state.project_id).path(A.EVENTS.path))

        def work() -> None:
            try:
                # in-process, the project uses the service's store (one holder per path)
                final = run_project(self.settings, state, use_ray=self.use_ray,
                                    feedback=self.feedback, wait_training=False,
                                    on_event=events.on_event,
                                    **({} if self.use_ray else {"store": self.store}))
                events.finished(final.status, final.error)
            except Exception as e:
                log.error("project %s failed: %s", state.project_id, e)
                self._mark_failed(state.project_id, f"{type(e).__name__}: {e}")
                events.finished(ProjectStatus.FAILED, f"{type(e).__name__}: {e}")

        with self._lock:
            t = self._threads.get(state.project_id)
            if t is not None and t.is_alive():
                raise UserError(f"project {state.project_id} is already running")
            t = threading.Thread(target=work, name=f"project-{state.project_id}", daemon=True)
            self._threads[state.project_id] = t
            t.start()

    def _mark_failed(self, project_id: str, error: str) -> None:
        """A cycle that died before (or outside) the orchestrator's own handler would
        leave project.json 'created'/'running' and the page polling forever."""
        st = self._state(project_id)
        if st is not None and st.status in (ProjectStatus.CREATED, ProjectStatus.RUNNING,
                                            ProjectStatus.WAITING_FEEDBACK):
            self.registry.update(project_id, status=ProjectStatus.FAILED, error=error,
                                 waiting_feedback_for=None)

    def list_projects(self, user_id: str) -> list[ProjectSummary]:
        return self.registry.list(user_id)

    def project_owner(self, project_id: str) -> str | None:
        st = self._state(project_id)
        return st.user_id if st else None

    def project_status(self, project_id: str) -> ProjectStatusReport:
        st = self._state(project_id)
        if st is None:
            raise UserError(f"no project {project_id}")
        ws = self._ws(project_id)
        mans = {ph: ws.manifest(ph) for ph in Phase}
        events = EventLog(ws.path(A.EVENTS.path)).tail()
        rate = latest_token_rate(ws.path(A.LEDGER.path))
        return ProjectStatusReport(
            project_id=project_id, user_id=st.user_id, status=st.status, phase=st.phase,
            manifests={ph: m.steps for ph, m in mans.items() if m.steps},
            phase_status={ph: m.status for ph, m in mans.items() if m.steps},
            waiting_feedback_for=st.waiting_feedback_for,
            feedback_deadline=getattr(st, "feedback_deadline", None), topic=st.topic,
            has_pdf=ws.exists(A.PAPER_PDF.path), error=st.error, updated_at=st.updated_at,
            events=events + ([rate] if rate else []))

    def project_view(self, project_id: str) -> ProjectView:
        if self._state(project_id) is None:
            raise UserError(f"no project {project_id}")
        return load_view(self._ws(project_id).root, project_id)

    def list_artifacts(self, project_id: str) -> list[str]:
        root = self._ws(project_id).root
        skip = {A.PROJECT.name, A.LEDGER.name}
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
        ws.write_json(A.FEEDBACK.rel(phase=feedback.phase, feedback_id=feedback.feedback_id), feedback)
        if st.status in (ProjectStatus.RUNNING, ProjectStatus.WAITING_FEEDBACK) \
                and not ws.step_done(feedback.phase, "feedback"):
            if self.use_ray:
                from nanoresearch_app.ray_launch import send_feedback
                if send_feedback(self.settings, feedback.project_id, feedback):
                    return
            self.feedback.submit(feedback)  # the orchestrator picks it up and trains
        else:
            from nanoresearch_app.compose import apply_feedback
            apply_feedback(self.settings, feedback, wait=False, use_ray=self.use_ray)

    def cancel(self, project_id: str) -> None:
        # the orchestrator checks the request before every step and stops there (state
        # kept for resume); with Ray its actor is also killed, which ends the step in
        # flight and its sandboxed experiment (bwrap dies with its parent); a project
        # nobody runs is marked cancelled right away
        ws = self._ws(project_id)
        if self._state(project_id) is None:
            return
        ws.request_cancel()
        if self.use_ray:
            from nanoresearch_app.ray_launch import stop
            if stop(self.settings, project_id):
                deadline = time.time() + 10  # ray.kill is asynchronous: wait for the lock
                while ws.is_running() and time.time() < deadline:
                    time.sleep(0.2)
        if not ws.is_running():
            ws.update_state(status=ProjectStatus.CANCELLED)

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

    @property
    def adapters(self) -> Any:
        from storage.adapters import AdapterRegistry
        return AdapterRegistry(self.settings.adapters_dir)

    def knowledge(self, user_id: str) -> KnowledgeView:
        return knowledge_view(self.store, user_id).model_copy(update={
            "adapters": self.list_adapters(user_id), "current_adapter": self.adapters.current_version(user_id)})

    def rollback_adapter(self, user_id: str, to_version: int | None) -> int | None:
        """Serve an earlier planner adapter (`to_version`, else the current one's parent;
        None: the base model); the serving planner picks the pointer up on its next call."""
        rec = self.adapters.rollback(user_id, to_version)
        return None if rec is None else rec.version

    def delete_memory(self, user_id: str, memory_id: str) -> bool:
        return bool(self.store.delete_memory(memory_id, user_id))

    def delete_skill(self, user_id: str, skill_id: str) -> bool:
        """Only the user's own skills: a shared skill serves everyone, the admin removes it."""
        s = self.store.get_skill(skill_id)
        if s is None or s.scope != user_id:
            return False
        return bool(self.store.delete_skill(skill_id, user_id))

    def list_adapters(self, user_id: str) -> list[AdapterVersion]:
        return self.adapters.list(user_id)
