"""Project registry: who owns which project, its title and status.

There is one store of truth for a project: `project.json` (a ProjectState) in its
workspace `<data_dir>/projects/<project_id>/`, written by the orchestrator as it runs and
by cancel. This registry reads and updates those same files, so the CLI, the store
actor and the HTTP API list the same projects with the same status. (An earlier
separate index under `projects/index/` could drift from project.json and collided with
a project named `index`; it is no longer read.)
"""
from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from pydantic import ValidationError

from nanoresearch.artifacts import PROJECT
from nanoresearch.errors import UserError
from nanoresearch.types import (ProjectState, ProjectStatus, ProjectSummary, ResearchTopic,
                                new_id, now)
from nanoresearch.workspace import atomic_write_json, read_project_states
from storage.profiles import check_user_id

log = logging.getLogger(__name__)
_PID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
STATE_FILE = PROJECT.path

ProjectRecord = ProjectSummary  # the registry's row (kept under its old name for callers)


class ProjectNotFound(UserError):
    pass


class NotProjectOwner(UserError):
    pass


def check_project_id(project_id: str) -> str:
    if not isinstance(project_id, str) or not _PID.match(project_id):
        raise UserError(f"project id {project_id!r} is invalid: use 1-80 letters, digits, '_', "
                        f"'.' or '-', starting with a letter or digit")
    return project_id


class ProjectRegistry:
    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir) / "projects"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # read-modify-write of one record within a process

    def _path(self, project_id: str) -> Path:
        return self.root / check_project_id(project_id) / STATE_FILE

    def create(self, user_id: str, title: str, project_id: str | None = None) -> ProjectSummary:
        """A new project.json (the orchestrator's `new_project` writes the same file)."""
        check_user_id(user_id)
        if not title.strip():
            raise UserError("a project needs a non-empty title (the research topic)")
        st = ProjectState(project_id=project_id or new_id("p-"), user_id=user_id,
                          topic=ResearchTopic(problem_statement=title.strip()))
        with self._lock:
            path = self._path(st.project_id)
            if path.exists():
                raise UserError(f"project {st.project_id!r} already exists; pick another id")
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, st)
        log.info("registered project %s for %s", st.project_id, user_id)
        return ProjectSummary.of(st)

    def state(self, project_id: str) -> ProjectState:
        path = self._path(project_id)
        if not path.is_file():
            raise ProjectNotFound(f"no project {project_id!r}; list yours with `nanoresearch projects`")
        try:
            return ProjectState.model_validate_json(path.read_text())
        except (ValidationError, ValueError) as e:
            raise UserError(f"project state {path} is corrupt ({e}); restore or delete it") from None

    def get(self, project_id: str) -> ProjectSummary:
        return ProjectSummary.of(self.state(project_id))

    def check_owner(self, project_id: str, user_id: str) -> ProjectSummary:
        """The record if `user_id` owns it; NotProjectOwner otherwise (no data leaks)."""
        rec = self.get(project_id)
        if rec.user_id != user_id:
            raise NotProjectOwner(f"project {project_id!r} belongs to another user")
        return rec

    def update(self, project_id: str, **changes) -> ProjectState:
        with self._lock:
            st = self.state(project_id).model_copy(update={**changes, "updated_at": now()})
            atomic_write_json(self._path(project_id), st)
        return st

    def set_status(self, project_id: str, status: ProjectStatus | str) -> ProjectSummary:
        return ProjectSummary.of(self.update(project_id, status=ProjectStatus(status)))

    def states(self, user_id: str | None = None) -> list[ProjectState]:
        """Project states of `user_id` (all when None), newest first: the one listing,
        workspace.read_project_states (an unreadable file is skipped, never hides others)."""
        return read_project_states(self.root, user_id)

    def list(self, user_id: str | None = None) -> list[ProjectSummary]:
        return [ProjectSummary.of(s) for s in self.states(user_id)]

    def delete(self, project_id: str) -> None:
        self._path(project_id).unlink(missing_ok=True)
