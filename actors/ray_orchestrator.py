"""A project's cycle in its own Ray actor: the CLI and the HTTP service start it, stream its
events, detach and re-attach.

`OrchestratorActor` (named `orchestrator.<project_id>` in the nanoresearch namespace) runs
a cycle function in a thread as soon as it is built, so an actor that Ray restarts after
its node died (`max_restarts`) resumes the cycle by itself: `Orchestrator.run` skips
every finished step. Events are kept in the actor and appended to the project's
`events.jsonl`, so a driver attaching late (or after a restart) replays them all.

Feedback: when the attached driver answers it (`relay=True`, the CLI's interactive mode)
the actor asks by emitting `feedback_wanted` and waits for `submit_feedback`; otherwise
the run's own `source` decides: `feedback: http` waits at each gate up to its deadline
for feedback posted with `submit_feedback` or written to the project's inbox, `skip`
asks nobody.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import ray

from actors.feedback import QueuedFeedback
from nanoresearch.ray_runtime import NAMESPACE, actor_options
from nanoresearch.types import Feedback, Phase

log = logging.getLogger(__name__)
# cycle(on_event, feedback) -> final ProjectState as JSON
Cycle = Callable[[Callable[[str, dict], None], Any], str]
POLL_S = 0.3


def actor_name(project_id: str) -> str:
    return f"orchestrator.{project_id}"


class RelayFeedback:
    """Asks the attached driver (a `feedback_wanted` event) and waits for its answer."""

    def __init__(self, emit: Callable[[str, dict], None]):
        self.emit = emit
        self.answers: "queue.Queue[Feedback | None]" = queue.Queue()

    def ask(self, user_id: str, project_id: str, phase: Phase, summary: str) -> Feedback | None:
        self.emit("feedback_wanted", {"phase": phase.value, "summary": summary[:4000]})
        return self.answers.get()

    def submit(self, fb: Feedback | None) -> None:
        self.answers.put(fb)


@ray.remote(max_restarts=3, max_task_retries=0, max_concurrency=16)
class OrchestratorActor:
    def __init__(self, project_id: str, events_path: str, cycle: Cycle, relay: bool, run_id: str,
                 source: Any = None):
        self.project_id, self.path, self.run_id = project_id, Path(events_path), run_id
        self.events: list[dict] = self._replay()
        self.result: str | None = None
        self.error: str | None = None
        self.done = threading.Event()
        # relay: the driver answers; else the run's own source (posted feedback, waiting
        # `wait_s` at each gate, or skip); none given: take what is posted, never wait
        self.feedback = RelayFeedback(self.emit) if relay else source or QueuedFeedback(wait_s=0)
        if self.events:  # rebuilt by Ray after a crash: say so, then resume
            self.emit("orchestrator_restarted", {"pid": _pid()})
        threading.Thread(target=self._work, args=(cycle,), daemon=True,
                         name=f"cycle-{project_id}").start()

    def _replay(self) -> list[dict]:
        if not self.path.exists():
            return []
        evs = (json.loads(line) for line in self.path.read_text().splitlines() if line.strip())
        return [e for e in evs if e.get("run") == self.run_id]  # this launch's, not an older run's

    def emit(self, kind: str, data: dict) -> None:
        ev = {"seq": len(self.events), "run": self.run_id, "kind": kind, "time": time.time(),
              "data": data}
        self.events.append(ev)
        with self.path.open("a") as f:  # the web page and `attach` read the same record
            f.write(json.dumps(ev, default=str) + "\n")

    def _work(self, cycle: Cycle) -> None:
        try:
            self.result = cycle(self.emit, self.feedback)
            self.emit("cycle_done", {})
        except BaseException as e:  # noqa: BLE001 - reported to every attached driver
            log.exception("cycle of %s failed", self.project_id)
            self.error = f"{type(e).__name__}: {e}"
            self.emit("cycle_failed", {"error": self.error})
        finally:
            self.done.set()

    # ------------------------------------------------------------ driver-facing
    def poll(self, since: int, wait_s: float = 1.0) -> dict[str, Any]:
        """Events from `since` on (waiting up to `wait_s` for one), and the outcome."""
        end = time.time() + wait_s
        while len(self.events) <= since and not self.done.is_set() and time.time() < end:
            time.sleep(0.05)
        return {"events": self.events[since:], "done": self.done.is_set(),
                "result": self.result, "error": self.error}

    def submit_feedback(self, fb: Feedback | None) -> None:
        # None: "no comment"; a skip source takes none (the service keeps the post on disk)
        if (fb is not None or isinstance(self.feedback, RelayFeedback)) and hasattr(self.feedback, "submit"):
            self.feedback.submit(fb)

    def ping(self) -> dict[str, Any]:
        return {"pid": _pid(), "node": ray.get_runtime_context().get_node_id(),
                "done": self.done.is_set()}


def _pid() -> int:
    import os
    return os.getpid()


def launch(project_id: str, events_path: Path, cycle: Cycle, *, relay: bool = False,
           source: Any = None, detached: bool = False, resources: dict[str, float] | None = None) -> Any:
    """Start the project's orchestrator actor, or return the one already running it (a
    finished one, kept by a detached lifetime, is replaced)."""
    handle = _named(project_id)
    if handle is not None:
        if not ray.get(handle.ping.remote())["done"]:
            return handle
        ray.kill(handle, no_restart=True)
        _wait_gone(project_id)
    opts = actor_options(resources or {"CPU": 0.5})
    return OrchestratorActor.options(
        name=actor_name(project_id), namespace=NAMESPACE, get_if_exists=True,
        lifetime="detached" if detached else None, **opts,
    ).remote(project_id, str(events_path), cycle, relay, uuid.uuid4().hex[:12], source)


def _named(project_id: str) -> Any | None:
    try:
        return ray.get_actor(actor_name(project_id), namespace=NAMESPACE)
    except ValueError:
        return None


def _wait_gone(project_id: str, timeout_s: float = 30) -> None:
    end = time.time() + timeout_s
    while _named(project_id) is not None and time.time() < end:
        time.sleep(0.1)


def find(project_id: str) -> Any | None:
    """The project's orchestrator while its cycle runs, else None."""
    handle = _named(project_id)
    try:
        return None if handle is None or ray.get(handle.ping.remote())["done"] else handle
    except ray.exceptions.RayActorError:  # died for good (no restarts left)
        return None


def follow(handle: Any, on_event: Callable[[str, dict], None], *, since: int = 0,
           answer: Callable[[dict], Feedback | None] | None = None) -> tuple[str | None, str | None]:
    """Stream the actor's events to `on_event` until the cycle ends; `answer` replies to
    `feedback_wanted`. Returns (final state JSON, error). Ctrl-C detaches (the actor runs on
    when detached, and dies with this driver otherwise)."""
    while True:
        out = _poll(handle, since)
        for ev in out["events"]:
            since = ev["seq"] + 1
            on_event(ev["kind"], ev["data"])
            if ev["kind"] == "feedback_wanted" and answer is not None:
                handle.submit_feedback.remote(answer(ev["data"]))
        if out["done"] and not out["events"]:
            return out["result"], out["error"]
        if not out["events"]:
            time.sleep(POLL_S)


def _poll(handle: Any, since: int, restart_wait_s: float = 120) -> dict[str, Any]:
    """One poll; while Ray restarts the actor (its node died) the call fails: retry."""
    end = time.time() + restart_wait_s
    while True:
        try:
            return ray.get(handle.poll.remote(since, wait_s=1.0))
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
            if time.time() > end:
                raise
            time.sleep(1.0)


def stop(project_id: str) -> bool:
    """Kill the project's orchestrator (its agents, owned by it, go with it). Safe: a step
    writes its artifact only when it finished, so `resume` redoes only the interrupted one."""
    handle = _named(project_id)
    if handle is None:
        return False
    ray.kill(handle, no_restart=True)
    return True


def submit_feedback(project_id: str, fb: Feedback) -> bool:
    """Hand feedback to the project's running orchestrator; False when none runs."""
    handle = find(project_id)
    if handle is None:
        return False
    ray.get(handle.submit_feedback.remote(fb))
    return True
