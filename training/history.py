"""The per-user record SDPO trains on: every planner call and every stage feedback.

Layout: `<data_dir>/planner_log/<user_id>/calls.jsonl` (PlannerCall, one per line),
`feedback.jsonl` (Feedback, one line per feedback id: a second append of the same id is
dropped) and `rounds.jsonl` (SDPORound: which feedback ids each round consumed, and how it
ended). It lives in training/ (not serve/) because the orchestrator
(actors/) and the training job both read and append to it and may not import serve/;
serve/planner_log.py writes the calls through this class. Appends of one line under a
lock are atomic enough for JSONL: a torn last line (crash mid-write) is skipped on read.

Each feedback triggers at most one round: `claim_round` (under a file lock, so the CLI's
process and the orchestrator's agree) records the user's not-yet-consumed feedback ids as
a started round, or returns None when every paired feedback was consumed already. A
failed round releases its ids (the next trigger trains them); a started round that never
finished (the process died) keeps them: at most once, and the next round's replay of all
triples still includes them.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import threading
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from nanoresearch.types import Feedback, PlannerCall, SDPORound
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

    def append_feedback(self, feedback: Feedback) -> bool:
        """Log one feedback; False (and nothing written) when its id is logged already
        (the CLI and the stage gate both log the feedback they see)."""
        with self._file_lock(feedback.user_id):
            if any(f.feedback_id == feedback.feedback_id for f in self.feedbacks(feedback.user_id)):
                return False
            self._append(feedback.user_id, "feedback.jsonl", feedback)
        return True

    def calls(self, user_id: str) -> list[PlannerCall]:
        return self._read(user_id, "calls.jsonl", PlannerCall)

    def feedbacks(self, user_id: str) -> list[Feedback]:
        return self._read(user_id, "feedback.jsonl", Feedback)

    def triples(self, user_id: str) -> list[Triple]:
        """All of this user's (x, y, o) triples, oldest feedback first."""
        return pair_triples(self.calls(user_id), self.feedbacks(user_id))

    # ------------------------------------------------------------------ rounds
    @contextlib.contextmanager
    def _file_lock(self, user_id: str):
        d = self.user_dir(user_id)
        d.mkdir(parents=True, exist_ok=True)
        with open(d / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def rounds(self, user_id: str) -> list[SDPORound]:
        """Each round's latest record, oldest round first."""
        latest: dict[str, SDPORound] = {}
        for r in self._read(user_id, "rounds.jsonl", SDPORound):
            latest[r.round_id] = r  # dicts keep the first insertion's position
        return list(latest.values())

    def consumed_feedback_ids(self, user_id: str) -> set[str]:
        return {f for r in self.rounds(user_id) if r.status != "failed" for f in r.feedback_ids}

    def claim_round(self, user_id: str) -> SDPORound | None:
        """A started round over the user's paired feedback that no round consumed yet;
        None when there is none (nothing new to train on)."""
        with self._file_lock(user_id):
            done = self.consumed_feedback_ids(user_id)
            new = [f for f in dict.fromkeys(t.feedback_id for t in self.triples(user_id)) if f not in done]
            if not new:
                return None
            rec = SDPORound(user_id=user_id, feedback_ids=new)
            self._append(user_id, "rounds.jsonl", rec)
        return rec

    def finish_round(self, rec: SDPORound, adapter_version: int | None = None,
                     error: str | None = None) -> SDPORound:
        out = rec.model_copy(update={"status": "failed" if error else "published",
                                     "adapter_version": adapter_version, "error": error})
        with self._file_lock(rec.user_id):
            self._append(rec.user_id, "rounds.jsonl", out)
        return out
