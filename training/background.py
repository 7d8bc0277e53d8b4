"""Feedback rounds in the background, without Ray: the handle, the per-user lock, and the
in-process round (`--no-ray`). training/ray_job.py passes its Ray Train job as `job`.

The round runs in a daemon *thread* of the caller: Ray Train's `fit()` blocks its caller
while the work happens in Ray worker processes, and the in-process round is one call, so
a thread keeps the next stage going without extra resources; the caller gets a handle
(`wait()`, `done()`). One round per user at a time (a lock per user), so two rounds
never race for the same parent version. Each feedback triggers at most one round: the
round claims the user's unconsumed feedback ids in the training history first
(training/history.py); when there are none (the CLI's `nanoresearch feedback` already
trained on what the stage gate now passes on, or the reverse) the handle is done at once
with `skipped` saying why and `wait()` returns None.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from nanoresearch.config import Settings
from nanoresearch.types import AdapterVersion, SDPORound
from training.history import PlannerHistory
from training.sdpo_config import SDPOConfig

log = logging.getLogger(__name__)


class BackgroundTraining:
    """Handle of a round running in a thread."""

    def __init__(self, user_id: str):
        self.user_id = user_id
        self.result: AdapterVersion | None = None
        self.error: BaseException | None = None
        self.skipped: str | None = None  # why no round ran (its feedback was trained already)
        self.round: SDPORound | None = None  # the claim in the training history
        self._done = threading.Event()

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> AdapterVersion | None:
        """The published version; None when the round was skipped (see `skipped`)."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"SDPO round for {self.user_id!r} still running after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result


_USER_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _user_lock(user_id: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _USER_LOCKS.setdefault(user_id, threading.Lock())


def train_in_background(settings: Settings, user_id: str, base_dir: str | Path,
                        config: SDPOConfig | None = None, *,
                        job: Callable[[], AdapterVersion] | None = None,
                        on_done: Callable[[BackgroundTraining], None] | None = None,
                        progress: str | Path | None = None) -> BackgroundTraining:
    """Start a feedback round; returns at once when `settings.serve.train_in_background`
    (else after the round). `job` is the round to run (the Ray Train job); None trains
    in this process. `progress`: the project's progress.jsonl (a TrainingStep per step)."""
    handle = BackgroundTraining(user_id)
    history = PlannerHistory(settings.data_dir)
    if history.triples(user_id):  # none at all: the job itself says so (UserError)
        handle.round = history.claim_round(user_id)
        if handle.round is None:
            handle.skipped = (f"every feedback of user {user_id!r} was already consumed by an "
                              "earlier SDPO round; nothing new to train on")
            log.info("SDPO round skipped: %s", handle.skipped)
            handle._done.set()
            if on_done is not None:
                on_done(handle)
            return handle

    def in_process() -> AdapterVersion:
        from training.rounds import run_round_from_paths
        cfg = (config or SDPOConfig.from_settings(settings.training)).to_dict()
        return AdapterVersion.model_validate(run_round_from_paths(
            str(base_dir), str(settings.adapters_dir), str(settings.data_dir), user_id, cfg,
            progress=str(progress) if progress else None))

    def work() -> None:
        try:
            with _user_lock(user_id):
                handle.result = (job or in_process)()
            if handle.round is not None:
                handle.round = history.finish_round(handle.round, handle.result.version)
        except BaseException as e:  # noqa: BLE001 - handed to the caller via wait()
            log.error("SDPO round for %s failed: %s", user_id, e)
            handle.error = e
            if handle.round is not None:  # released: the next trigger trains these ids
                handle.round = history.finish_round(handle.round, error=f"{type(e).__name__}: {e}"[:500])
        finally:
            handle._done.set()
            if on_done is not None:
                on_done(handle)

    if settings.serve.train_in_background:
        threading.Thread(target=work, name=f"sdpo-{user_id}", daemon=True).start()
    else:
        work()
    return handle
