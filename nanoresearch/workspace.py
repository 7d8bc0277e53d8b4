"""A project's workspace on disk: artifacts, per-phase manifests, atomic writes.

Layout: <projects_dir>/<project_id>/
  project.json            ProjectState (topic, user, status)
  <phase>/manifest.json   StageManifest: which steps finished, with their artifacts
  <phase>/...             that phase's artifacts (JSON, code, logs, figures, LaTeX)
Every write goes to a temp file then `os.replace`, so a `kill -9` at any moment leaves
either the old or the new file, never a torn one; a step is marked done only after its
artifacts are written, so resume never trusts a half-finished step.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, TypeVar

from pydantic import BaseModel

from nanoresearch.errors import UserError
from nanoresearch.types import Phase, StageManifest, StepRecord, StepStatus

T = TypeVar("T", bound=BaseModel)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
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
        p = self.path(phase.value, "manifest.json")
        if p.exists():
            return StageManifest.model_validate_json(p.read_text())
        return StageManifest(project_id=self.project_id, phase=phase)

    def _save_manifest(self, m: StageManifest) -> None:
        m.updated_at = time.time()
        atomic_write_json(self.path(m.phase.value, "manifest.json"), m)

    def step_record(self, phase: Phase, name: str) -> StepRecord | None:
        return next((s for s in self.manifest(phase).steps if s.name == name), None)

    def step_done(self, phase: Phase, name: str) -> bool:
        rec = self.step_record(phase, name)
        return bool(rec and rec.status == StepStatus.DONE
                    and all(self.path(a).exists() for a in rec.artifacts))

    def mark_step(self, phase: Phase, name: str, status: StepStatus,
                  artifacts: list[str] | None = None, error: str | None = None) -> None:
        with self._lock:
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
        with self._lock:
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
