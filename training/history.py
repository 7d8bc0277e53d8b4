"""The per-user record SDPO trains on: every planner call and every stage feedback.

Layout: `<data_dir>/planner_log/<user_id>/calls.jsonl` (PlannerCall, one per line) and
`feedback.jsonl` (Feedback). It lives in training/ (not serve/) because the orchestrator
(actors/) and the training job both read and append to it and may not import serve/;
serve/planner_log.py writes the calls through this class. Appends of one line under a
lock are atomic enough for JSONL: a torn last line (crash mid-write) is skipped on read.
"""
from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from nanoresearch.types import Feedback, PlannerCall
from storage.adapters import check_user_id
from training.data import Triple, pair_triples

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
_LOCK = threading.Lock()


class PlannerHistory:
    def __init__(self, data_dir: str | Path):
        self.root = Path(data_dir) / "planner_log"

    def user_dir(self, user_id: str) -> Path:
        return self.root / check_user_id(user_id)

    def _append(self, user_id: str, name: str, rec: BaseModel) -> None:
        d = self.user_dir(user_id)
        d.mkdir(parents=True, exist_ok=True)
        line = rec.model_dump_json() + "\n"
        with _LOCK, open(d / name, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()

    def _read(self, user_id: str, name: str, cls: type[M]) -> list[M]:
        path = self.user_dir(user_id) / name
        if not path.exists():
            return []
        out = []
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            try:
                out.append(cls.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError) as e:
                log.warning("skipping unreadable line %d of %s: %s", i + 1, path, str(e)[:120])
        return out

    def append_call(self, call: PlannerCall) -> None:
        self._append(call.user_id, "calls.jsonl", call)

    def append_feedback(self, feedback: Feedback) -> None:
        self._append(feedback.user_id, "feedback.jsonl", feedback)

    def calls(self, user_id: str) -> list[PlannerCall]:
        return self._read(user_id, "calls.jsonl", PlannerCall)

    def feedbacks(self, user_id: str) -> list[Feedback]:
        return self._read(user_id, "feedback.jsonl", Feedback)

    def triples(self, user_id: str) -> list[Triple]:
        """All of this user's (x, y, o) triples, oldest feedback first."""
        return pair_triples(self.calls(user_id), self.feedbacks(user_id))
