"""The planner while its Serve replica starts: local plans first, the replica takes over.

Starting Ray Serve and loading the model in a replica takes tens of seconds (minutes on a
loaded box), and Stage I needs its first plan within seconds. `HandoffPlanner.plan` asks
the Serve route as soon as the replica is ready and, until then, an in-process planner
client (the same base model and the user's current adapter, logged the same way, so
SDPO trains on those calls too). Each plan records which one made it in `made_by`
("serve" or "local"). A replica that failed to start is reported once and the local
planner keeps answering; nothing is hidden: the plan says "local".
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from nanoresearch.types import Plan

log = logging.getLogger(__name__)


class BackgroundStart:
    """Runs `start()` in a thread; `ready()` is True once it returned without error."""

    def __init__(self, start: Callable[[], Any], name: str = "planner-start"):
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._ok = False

        def work() -> None:
            try:
                start()
                self._ok = True
            except BaseException as e:  # noqa: BLE001 - reported by the planner's plans
                log.error("planner replica did not start: %s", e)
                self.error = e
            finally:
                self._done.set()

        threading.Thread(target=work, name=name, daemon=True).start()

    def ready(self) -> bool:
        return self._ok

    def wait(self, timeout: float | None = None) -> bool:
        self._done.wait(timeout)
        return self._ok


class HandoffPlanner:
    """`plan(...)` like PlannerClient; `remote` once `started.ready()`, else `local`."""

    def __init__(self, started: BackgroundStart, remote: Callable[[], Any], local: Callable[[], Any]):
        self.started = started
        self._remote_factory, self._local_factory = remote, local
        self._remote: Any = None
        self._local: Any = None
        self._lock = threading.Lock()

    def plan(self, **kw: Any) -> Plan:
        if self.started.ready():
            with self._lock:
                self._remote = self._remote or self._remote_factory()
            made_by, client = "serve", self._remote
        else:
            with self._lock:  # built on first need only: when Serve was quick, never
                self._local = self._local or self._local_factory()
            made_by, client = "local", self._local
        plan = client.plan(**kw)
        log.info("plan for %s made by %s", kw.get("stage"), made_by)
        return plan.model_copy(update={"made_by": made_by})
