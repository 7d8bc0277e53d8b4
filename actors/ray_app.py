"""Agents as Ray actors: one generic `AgentHost` per agent, a proxy that looks like it.

Agents stay plain classes. `AgentHost` builds its agent inside the actor process from a
builder function (engines and clients are not picklable, so they are never shipped), and
`RayProxy` makes an actor handle look like the plain object, so the orchestrator cannot
tell the difference. Each actor asks for the resources its agent declares
(nanoresearch/agents.py, overridable by `cluster.agent_resources`), so a cluster spreads
the team over its CPU nodes. Actors restart on failure (`max_restarts`) and their calls
are retried (`max_task_retries`): a killed agent is rebuilt and the call it was serving
runs again; steps are idempotent because the orchestrator writes artifacts only after a
step returns.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable

import ray

from nanoresearch.ray_runtime import NAMESPACE, actor_options, init_ray  # noqa: F401 - re-export

log = logging.getLogger(__name__)
Builder = Callable[[], Any]
# this process's proxy calls: count and wall seconds (the Ray overhead benchmark)
_HOPS = {"calls": 0, "wall_s": 0.0}
_HOPS_LOCK = threading.Lock()


def _count_hop(t0: float) -> None:
    with _HOPS_LOCK:
        _HOPS["calls"] += 1
        _HOPS["wall_s"] += time.perf_counter() - t0


@ray.remote(max_restarts=2, max_task_retries=2)
class AgentHost:
    """Holds one agent (or service) built in this actor's process."""

    def __init__(self, name: str, builder: Builder):
        self.name = name
        self.obj = builder()
        self.busy_s, self.calls = 0.0, 0
        log.info("agent %s ready in pid %d", name, os.getpid())

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return getattr(self.obj, method)(*args, **kwargs)
        finally:
            self.busy_s += time.perf_counter() - t0
            self.calls += 1

    def stats(self) -> dict[str, float]:
        """Seconds spent inside the agent's methods (the rest of a call's wall is Ray's)."""
        return {"calls": self.calls, "busy_s": self.busy_s}

    def resolve(self, name: str) -> tuple[str, Any]:
        """("method", None) for a callable attribute, else ("data", its value): the proxy
        learns which names are data from the object itself, not from a list."""
        value = getattr(self.obj, name)
        return ("method", None) if callable(value) else ("data", value)

    def ping(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id()}


class RayProxy:
    """`proxy.run(x)` == `ray.get(host.call.remote("run", x))`; a data attribute
    (`proxy.history`) is read from the actor each time, so it is never stale."""

    def __init__(self, handle: Any, name: str):
        self._handle, self._name = handle, name
        self._methods: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._methods:
            t0 = time.perf_counter()
            kind, value = ray.get(self._handle.resolve.remote(name))
            _count_hop(t0)
            if kind == "data":
                return value
            self._methods.add(name)  # methods stay methods; data is re-read on each access

        def remote_call(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return ray.get(self._handle.call.remote(name, *args, **kwargs))
            finally:
                _count_hop(t0)

        remote_call.__name__ = name
        return remote_call

    def __reduce__(self):  # a proxy handed to another actor keeps pointing at the agent
        return (RayProxy, (self._handle, self._name))

    @property
    def handle(self) -> Any:
        return self._handle


def start_agents(builders: dict[str, Builder], namespace: str,
                 resources: dict[str, dict[str, float]] | None = None,
                 detached: bool = False) -> dict[str, RayProxy]:
    """One named actor per agent (`<namespace>.<agent>`), reused if already alive, each
    asking for `resources[name]` (default: no reservation, for helpers in tests)."""
    proxies = {}
    for name, builder in builders.items():
        opts = actor_options((resources or {}).get(name, {"CPU": 0}))
        handle = AgentHost.options(name=f"{namespace}.{name}", namespace=NAMESPACE,
                                   get_if_exists=True, lifetime="detached" if detached else None,
                                   **opts).remote(name, builder)
        proxies[name] = RayProxy(handle, name)
    ray.get([p.handle.ping.remote() for p in proxies.values()])
    return proxies


def agent_nodes(proxies: dict[str, RayProxy]) -> dict[str, str]:
    """Which node each agent runs on (tests, `status`)."""
    return {n: ray.get(p.handle.ping.remote())["node"] for n, p in proxies.items()}


def hop_overhead(proxies: dict[str, RayProxy]) -> dict[str, float]:
    """Ray's share of this process's agent calls: proxy wall minus time inside the agents
    (serialisation, scheduling, object transfer, attribute look-ups)."""
    busy = sum(ray.get(p.handle.stats.remote())["busy_s"] for p in proxies.values())
    with _HOPS_LOCK:
        calls, wall = _HOPS["calls"], _HOPS["wall_s"]
    return {"calls": calls, "wall_s": round(wall, 3), "busy_s": round(busy, 3),
            "overhead_s": round(max(0.0, wall - busy), 3)}


def stop_agents(proxies: dict[str, RayProxy]) -> None:
    for p in proxies.values():
        try:
            ray.kill(p.handle, no_restart=True)
        except Exception as e:  # already gone
            log.debug("kill %s: %s", p._name, e)
