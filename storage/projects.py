"""Project registry: who owns which project, its title and status.

One JSON file per project under `<data_dir>/projects/index/<project_id>.json`, written
atomically (temp file + rename) so a crash never leaves half a record. The HTTP API
checks ownership here before it shows or changes a project.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from nanoresearch.errors import UserError
from nanoresearch.types import ProjectStatus, new_id, now
from storage.profiles import check_user_id

log = logging.getLogger(__name__)
_PID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


class ProjectRecord(BaseModel):
    project_id: str
    user_id: str
    title: str
    status: ProjectStatus = ProjectStatus.CREATED
    created_at: float = Field(default_factory=now)
    updated_at: float = Field(default_factory=now)


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
        self.root = Path(data_dir) / "projects" / "index"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # read-modify-write of one record within a process

    def _path(self, project_id: str) -> Path:
        return self.root / f"{check_project_id(project_id)}.json"

    def _write(self, rec: ProjectRecord) -> None:
        path = self._path(rec.project_id)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(rec.model_dump_json(indent=2))
        os.replace(tmp, path)

    def create(self, user_id: str, title: str, project_id: str | None = None) -> ProjectRecord:
        check_user_id(user_id)
        if not title.strip():
            raise UserError("a project needs a non-empty title (the research topic)")
        rec = ProjectRecord(project_id=project_id or new_id("p-"), user_id=user_id, title=title.strip())
        with self._lock:
            if self._path(rec.project_id).exists():
                raise UserError(f"project {rec.project_id!r} already exists; pick another id")
            self._write(rec)
        log.info("registered project %s for %s", rec.project_id, user_id)
        return rec

    def get(self, project_id: str) -> ProjectRecord:
        path = self._path(project_id)
        if not path.exists():
            raise ProjectNotFound(f"no project {project_id!r}; list yours with `nanoresearch projects`")
        try:
            return ProjectRecord.model_validate_json(path.read_text())
        except ValidationError as e:
            raise UserError(f"project record {path} is corrupt ({e.errors()[0]['msg']}); "
                            f"restore or delete it") from None

    def check_owner(self, project_id: str, user_id: str) -> ProjectRecord:
        """The record if `user_id` owns it; NotProjectOwner otherwise (no data leaks)."""
        rec = self.get(project_id)
        if rec.user_id != user_id:
            raise NotProjectOwner(f"project {project_id!r} belongs to another user")
        return rec

    def set_status(self, project_id: str, status: ProjectStatus | str) -> ProjectRecord:
        with self._lock:
            rec = self.get(project_id).model_copy(
                update={"status": ProjectStatus(status), "updated_at": now()})
            self._write(rec)
        return rec

    def list(self, user_id: str | None = None) -> list[ProjectRecord]:
        """Projects of `user_id` (all when None), newest first; unreadable files are skipped."""
        out = []
        for path in self.root.glob("*.json"):
            try:
                rec = ProjectRecord.model_validate_json(path.read_text())
            except (ValidationError, OSError) as e:
                log.warning("skipping unreadable project record %s: %s", path, e)
                continue
            if user_id is None or rec.user_id == user_id:
                out.append(rec)
        return sorted(out, key=lambda r: -r.created_at)

    def delete(self, project_id: str) -> None:
        self._path(project_id).unlink(missing_ok=True)
