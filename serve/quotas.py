"""Per-user quotas and input limits, checked before the research system acts.

`GuardedService` wraps any ProjectService (serve/api.py) and answers 429 with a message
that says which limit was hit and when it frees up:
- active projects (created / running / waiting for feedback) at once,
- new projects per 24 hours,
- hosted-model spend over all of the user's projects (their `ledger.jsonl` files),
- feedback-triggered planner trainings per 24 hours (every stage feedback starts an
  SDPO run; counted from the user's planner log, so every replica sees the same count).
It also refuses topics that are too long or hold text that cannot be stored (lone
surrogates). Everything else is passed through unchanged.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from nanoresearch import artifacts as A
from nanoresearch.config import QuotaSettings
from nanoresearch.types import Feedback, ProjectSummary, ResearchTopic
from nanoresearch.workspace import ACTIVE, Workspace
from serve.api_deps import ApiError
from serve.http_limits import json_problem

log = logging.getLogger(__name__)
DAY_S = 86_400
MAX_TOPIC_JSON = 64_000
MAX_LIST_ITEMS = 50


class QuotaExceeded(ApiError):
    def __init__(self, detail: str, retry_after_s: float | None = None):
        super().__init__(429, "quota_exceeded", detail)
        self.headers = {"Retry-After": str(int(retry_after_s) + 1)} if retry_after_s else None


def check_topic(topic: ResearchTopic, max_chars: int) -> None:
    """422 for a topic the system should not accept (size, unstorable text)."""
    if len(topic.problem_statement) > max_chars:
        raise ApiError(422, "invalid_request", f"problem_statement is {len(topic.problem_statement)} "
                       f"characters; the limit is {max_chars}: state the question briefly and put "
                       "details in background/extra_context")
    data = topic.model_dump(mode="python")
    problem = json_problem(data)
    if problem:
        raise ApiError(422, "invalid_request", f"topic: {problem}")
    if len(topic.model_dump_json()) > MAX_TOPIC_JSON:
        raise ApiError(422, "invalid_request", f"topic over {MAX_TOPIC_JSON} characters in all")
    for name in ("baselines", "datasets", "user_requirements"):
        if len(getattr(topic, name)) > MAX_LIST_ITEMS:
            raise ApiError(422, "invalid_request", f"{name}: at most {MAX_LIST_ITEMS} items")


def user_spend(projects_dir: Path, project_ids: list[str]) -> float:
    """Hosted-model USD recorded in these projects' ledgers."""
    from nanoresearch.llm.ledger import Ledger

    total = 0.0
    for pid in project_ids:
        path = Path(projects_dir) / pid / A.LEDGER.path
        if path.exists():
            total += Ledger(path=path).totals.cost_usd
    return total


class GuardedService:
    def __init__(self, service: Any, quotas: QuotaSettings | None = None,
                 projects_dir: str | Path | None = None, data_dir: str | Path | None = None):
        self._service = service
        self.quotas = quotas or QuotaSettings()
        self.projects_dir = Path(projects_dir) if projects_dir else None
        self.data_dir = Path(data_dir) if data_dir else None
        self._lock = threading.Lock()  # check-then-create is one step per process
        if self.quotas.max_spend_usd and self.projects_dir is None:
            log.warning("spend quota not enforced: the API was built without a projects dir")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    # ------------------------------------------------------------------ guarded calls
    def create_project(self, user_id: str, topic: ResearchTopic) -> str:
        check_topic(topic, self.quotas.max_topic_chars)
        with self._lock:
            rows = self._projects(user_id)
            self._check_active(rows)
            self._check_daily(rows)
            self._check_spend(rows)
            return self._service.create_project(user_id, topic)

    def resume(self, project_id: str) -> None:
        owner = self._service.project_owner(project_id)
        if self.projects_dir is not None and (self.projects_dir / project_id / A.PROJECT.path).exists() \
                and Workspace(self.projects_dir / project_id).is_running():
            raise ApiError(409, "conflict", f"project {project_id} is already running (here or "
                           "in another process, e.g. a CLI resume); cancel it first")
        with self._lock:
            if owner is not None:
                rows = self._projects(owner)
                self._check_active([r for r in rows if r.project_id != project_id])
                self._check_spend(rows)
            self._service.resume(project_id)

    def submit_feedback(self, feedback: Feedback) -> None:
        self._check_trainings(feedback.user_id)
        self._service.submit_feedback(feedback)

    def _projects(self, user_id: str) -> list[ProjectSummary]:
        """The user's projects, typed (the service's ProjectSummary rows)."""
        return [r if isinstance(r, ProjectSummary) else ProjectSummary.model_validate(r)
                for r in self._service.list_projects(user_id)]

    # ------------------------------------------------------------------ checks
    def _check_active(self, rows: list[ProjectSummary]) -> None:
        cap = self.quotas.max_active_projects
        active = [r for r in rows if r.status in ACTIVE]
        if cap and len(active) >= cap:
            raise QuotaExceeded(f"you have {len(active)} active project(s) (limit {cap}): wait "
                                "for one to finish or cancel one "
                                f"({', '.join(r.project_id for r in active[:5])})")

    def _check_daily(self, rows: list[ProjectSummary]) -> None:
        cap, now = self.quotas.max_projects_per_day, time.time()
        recent = sorted(r.created_at or 0 for r in rows if (r.created_at or 0) > now - DAY_S)
        if cap and len(recent) >= cap:
            raise QuotaExceeded(f"{len(recent)} projects created in the last 24 h (limit {cap})",
                                retry_after_s=recent[0] + DAY_S - now)

    def _check_spend(self, rows: list[ProjectSummary]) -> None:
        cap = self.quotas.max_spend_usd
        if not cap or self.projects_dir is None:
            return
        spent = user_spend(self.projects_dir, [r.project_id for r in rows])
        if spent >= cap:
            raise QuotaExceeded(f"your projects have spent ${spent:.2f} on hosted models (limit "
                                f"${cap:.2f}); ask the operator to raise serve.quotas.max_spend_usd")

    def _check_trainings(self, user_id: str) -> None:
        cap = self.quotas.max_trainings_per_day
        if not cap or self.data_dir is None:
            return
        from training.history import PlannerHistory

        now = time.time()
        recent = sorted(f.created_at for f in PlannerHistory(self.data_dir).feedbacks(user_id)
                        if f.created_at > now - DAY_S)
        if len(recent) >= cap:
            raise QuotaExceeded(f"{len(recent)} feedback-triggered planner trainings in the last "
                                f"24 h (limit {cap}); your feedback was not recorded",
                                retry_after_s=recent[0] + DAY_S - now)
