"""Agents as Ray actors: one generic `AgentHost` per agent, a proxy that looks like it.

Agents stay plain classes. `AgentHost` builds its agent inside the actor process from a
builder function (engines and clients are not picklable, so they are never shipped), and
`RayProxy` (the house's one actor proxy, nanoresearch/ray_proxy.py) makes an actor handle
look like the plain object, so the orchestrator cannot tell the difference. Each actor
asks for the resources its agent declares (nanoresearch/agents.py, overridable by
`cluster.agent_resources`), so a cluster spreads the team over its CPU nodes. Actors restart on failure (`max_restarts`) and their calls
are retried (`max_task_retries`): a killed agent is rebuilt and the call it was serving
runs again; steps are idempotent because the orchestrator writes artifacts only after a
step returns.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable

import ray

from nanoresearch.ray_proxy import ActorProxy, hops
from nanoresearch.ray_runtime import NAMESPACE, actor_options, init_ray  # noqa: F401 - re-export

log = logging.getLogger(__name__)
Builder = Callable[[], Any]

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


class RayProxy(ActorProxy):
    """An agent's proxy (nanoresearch/ray_proxy.py): the agent's class is not known here, so
    the proxy learns from the agent itself (`AgentHost.resolve`) which names are data;
    its calls are counted for `hop_overhead`."""

    count_hops = True

    def __init__(self, handle: Any, name: str):
        super().__init__(handle, name)

    def _init_args(self) -> tuple:
        return (self._handle, self._name)


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
    h = hops()
    calls, wall = h["calls"], h["wall_s"]
    return {"calls": calls, "wall_s": round(wall, 3), "busy_s": round(busy, 3),
            "overhead_s": round(max(0.0, wall - busy), 3)}


def stop_agents(proxies: dict[str, RayProxy]) -> None:
    for p in proxies.values():
        try:
            ray.kill(p.handle, no_restart=True)
        except Exception as e:  # already gone
            log.debug("kill %s: %s", p._name, e)
