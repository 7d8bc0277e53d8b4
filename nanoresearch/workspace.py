"""A project's workspace on disk: artifacts, per-phase manifests, atomic writes.

Layout: <projects_dir>/<project_id>/
  project.json            ProjectState (topic, user, status)
  <phase>/manifest.json   StageManifest: which steps finished, with their artifacts
  <phase>/...             that phase's artifacts (JSON, code, logs, figures, LaTeX)
  .run.lock               held (fcntl) by the one process whose orchestrator runs it
  .state.lock             serialises read-modify-write of project.json and manifests
  .cancel                 a cancel request, checked by the orchestrator between steps
Every write goes to a temp file then `os.replace` (and the directory is fsynced), so a
`kill -9` or power loss at any moment leaves either the old or the new file, never a torn
one; a step is marked done only after its artifacts are written, so resume never trusts
a half-finished step.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, TypeVar

from pydantic import BaseModel

from nanoresearch.artifacts import MANIFEST, PROJECT
from nanoresearch.errors import NanoResearchError, UserError
from nanoresearch.types import (Phase, ProjectState, ProjectStatus, StageManifest, StepRecord,
                                StepStatus)

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
RUN_LOCK, STATE_LOCK, CANCEL_FILE = ".run.lock", ".state.lock", ".cancel"


class ProjectBusy(UserError):
    """Another process (the CLI, an API replica) is already running this project."""


class ProjectCancelled(NanoResearchError):
    """The user asked to cancel; raised between steps so the project stops cleanly."""


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (the new directory entry survives a power loss)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return  # not supported on this platform/filesystem: the rename itself is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[bool]:
    """An exclusive fcntl lock on `path` (created if missing), held across processes
    until the block ends. Non-blocking: yields False when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj: Any) -> None:
    if isinstance(obj, BaseModel):
        text = obj.model_dump_json(indent=2)
    else:
        text = json.dumps(obj, indent=2, default=_default)
    atomic_write_text(path, text)


def _default(o: Any) -> Any:
    if isinstance(o, BaseModel):
        return o.model_dump(mode="json")
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class Workspace:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @property
    def project_id(self) -> str:
        return self.root.name

    def path(self, *parts: str) -> Path:
        p = self.root.joinpath(*parts).resolve()
        if self.root.resolve() not in p.parents and p != self.root.resolve():
            raise UserError(f"path {'/'.join(parts)!r} escapes the project workspace")
        return p

    # ------------------------------------------------------------ artifacts
    def write_json(self, rel: str, obj: Any) -> Path:
        p = self.path(rel)
        atomic_write_json(p, obj)
        return p

    def write_text(self, rel: str, text: str) -> Path:
        p = self.path(rel)
        atomic_write_text(p, text)
        return p

    def read_json(self, rel: str) -> Any:
        return json.loads(self.path(rel).read_text())

    def read_model(self, rel: str, cls: type[T]) -> T:
        return cls.model_validate_json(self.path(rel).read_text())

    def read_models(self, rel: str, cls: type[T]) -> list[T]:
        return [cls.model_validate(x) for x in self.read_json(rel)]

    def exists(self, rel: str) -> bool:
        return self.path(rel).exists()

    # ------------------------------------------------------------ manifests
    def manifest(self, phase: Phase) -> StageManifest:
        p = self.path(MANIFEST.rel(phase=phase))
        if p.exists():
            return StageManifest.model_validate_json(p.read_text())
        return StageManifest(project_id=self.project_id, phase=phase)

    def _save_manifest(self, m: StageManifest) -> None:
        m.updated_at = time.time()
        atomic_write_json(self.path(MANIFEST.rel(phase=m.phase)), m)

    def step_record(self, phase: Phase, name: str) -> StepRecord | None:
        return next((s for s in self.manifest(phase).steps if s.name == name), None)

    def step_done(self, phase: Phase, name: str) -> bool:
        rec = self.step_record(phase, name)
        return bool(rec and rec.status == StepStatus.DONE
                    and all(self.path(a).exists() for a in rec.artifacts))

    def mark_step(self, phase: Phase, name: str, status: StepStatus,
                  artifacts: list[str] | None = None, error: str | None = None) -> None:
        with self.state_lock():
            m = self.manifest(phase)
            rec = next((s for s in m.steps if s.name == name), None)
            if rec is None:
                rec = StepRecord(name=name)
                m.steps.append(rec)
            rec.status = status
            if status == StepStatus.RUNNING:
                rec.started_at = time.time()
            if status in (StepStatus.DONE, StepStatus.FAILED, StepStatus.SKIPPED):
                rec.finished_at = time.time()
            if artifacts is not None:
                rec.artifacts = artifacts
            rec.error = error
            self._save_manifest(m)

    def mark_phase(self, phase: Phase, status: StepStatus) -> None:
        with self.state_lock():
            m = self.manifest(phase)
            m.status = status
            self._save_manifest(m)

    @contextmanager
    def step(self, phase: Phase, name: str) -> Iterator[list[str]]:
        """`with ws.step(phase, "search") as arts: ...; arts.append("ideation/papers.json")`
        marks running, then done with the listed artifacts, or failed with the error."""
        self.mark_step(phase, name, StepStatus.RUNNING)
        arts: list[str] = []
        try:
            yield arts
        except BaseException as e:
            self.mark_step(phase, name, StepStatus.FAILED, arts, error=f"{type(e).__name__}: {e}")
            raise
        self.mark_step(phase, name, StepStatus.DONE, arts)

    # ------------------------------------------------------------ cross-process state
    @contextmanager
    def state_lock(self) -> Iterator[None]:
        """Serialise read-modify-write of project.json and the manifests across threads
        and processes (the orchestrator, a cancel from the API, the CLI)."""
        with self._lock, file_lock(self.root / STATE_LOCK):
            yield

    def update_state(self, **changes: Any) -> ProjectState:
        """Read project.json, apply `changes`, write it back, all under the state lock."""
        with self.state_lock():
            st = self.read_model(PROJECT.path, ProjectState)
            st = st.model_copy(update={**changes, "updated_at": time.time()})
            self.write_json(PROJECT.path, st)
            return st

    @contextmanager
    def run_lock(self) -> Iterator[None]:
        """Held for as long as one orchestrator drives this project; a second `run`
        (CLI resume while the API runs it) fails fast instead of racing the first."""
        with file_lock(self.root / RUN_LOCK, blocking=False) as got:
            if not got:
                raise ProjectBusy(f"project {self.project_id} is already running in another "
                                  "process; wait for it, or cancel it first")
            yield

    def is_running(self) -> bool:
        """True while some process holds the run lock."""
        if not (self.root / RUN_LOCK).exists():
            return False
        with file_lock(self.root / RUN_LOCK, blocking=False) as got:
            return not got

    def request_cancel(self) -> None:
        atomic_write_text(self.root / CANCEL_FILE, str(time.time()))

    def cancel_requested(self) -> bool:
        return (self.root / CANCEL_FILE).exists()

    def clear_cancel(self) -> None:
        (self.root / CANCEL_FILE).unlink(missing_ok=True)

    def check_cancel(self) -> None:
        if self.cancel_requested():
            raise ProjectCancelled(f"project {self.project_id} was cancelled")


def read_project_states(projects_dir: str | Path, user_id: str | None = None) -> list[ProjectState]:
    """The one project listing (the CLI, the store and the HTTP API all read it through
    storage/projects.ProjectRegistry.states): every readable project.json under
    `projects_dir`, of `user_id` when given, newest first. An unreadable one is logged and
    skipped, so one corrupt project cannot break every user's project list."""
    out: list[ProjectState] = []
    root = Path(projects_dir)
    for pj in sorted(root.glob(f"*/{PROJECT.path}")) if root.exists() else []:
        try:
            st = ProjectState.model_validate_json(pj.read_bytes())
        except (OSError, ValueError) as e:
            log.warning("skipping unreadable project file %s: %s", pj, str(e)[:200])
            continue
        if user_id is None or st.user_id == user_id:
            out.append(st)
    return sorted(out, key=lambda s: (-s.created_at, s.project_id))


ACTIVE = (ProjectStatus.CREATED, ProjectStatus.RUNNING, ProjectStatus.WAITING_FEEDBACK)


def recover_stale(projects_dir: str | Path) -> list[str]:
    """Projects recorded as active whose run lock nobody holds were left by a process
    that died (a replica restart, kill -9): mark them failed, saying how to continue.
    Returns their ids. Call once when a server starts."""
    fixed = []
    for st in read_project_states(projects_dir):
        ws = Workspace(Path(projects_dir) / st.project_id)
        if st.status not in ACTIVE or ws.is_running():
            continue
        if st.status == ProjectStatus.CREATED and time.time() - st.updated_at < 60:
            continue  # just created; its thread may not have taken the run lock yet
        ws.update_state(status=ProjectStatus.FAILED, error="interrupted: the process running this project "
                        "stopped (server restart or crash); resume it to continue")
        fixed.append(st.project_id)
    if fixed:
        log.warning("recovered %d interrupted project(s): %s", len(fixed), ", ".join(fixed))
    return fixed
