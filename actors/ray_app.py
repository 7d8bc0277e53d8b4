"""Composition root for Ray: every agent as a Ray actor, the orchestrator driving them.

Agents stay plain classes. `AgentHost` is one generic actor that builds its agent inside
the actor process from a builder function (engines and clients are not picklable, so they
are never shipped), and `RayProxy` makes an actor handle look like the plain object, so
the orchestrator cannot tell the difference. Actors restart on failure (`max_restarts`)
and their calls are retried (`max_task_retries`): a killed agent is rebuilt and the call
it was serving runs again; steps are idempotent because the orchestrator writes artifacts
only after a step returns.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable

import ray

log = logging.getLogger(__name__)
Builder = Callable[[], Any]


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join RAY_ADDRESS / `address` when given (a cluster, `ray job submit`), else start a
    local Ray on loopback (the embedded default)."""
    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS")
    env = {"env_vars": {k: v for k, v in os.environ.items()
                        if k.startswith(("NANORESEARCH_", "HF_", "OMP_NUM_THREADS"))}}
    if address:
        ray.init(address=address, runtime_env=env, log_to_driver=False)
    else:
        ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=num_cpus,
                 runtime_env=env, log_to_driver=False)


@ray.remote(max_restarts=2, max_task_retries=2, num_cpus=0)
class AgentHost:
    """Holds one agent (or service) built in this actor's process."""

    def __init__(self, name: str, builder: Builder):
        self.name = name
        self.obj = builder()
        log.info("agent %s ready in pid %d", name, os.getpid())

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.obj, method)(*args, **kwargs)

    def attr(self, name: str) -> Any:
        return getattr(self.obj, name)

    def ping(self) -> int:
        return os.getpid()


# Agents expose a few data attributes (records of their last call); a proxy reads these
# back instead of treating them as methods.
DATA_ATTRS = frozenset({"history", "trace", "last_notes", "events", "paths", "compile_history",
                        "last_report"})


class RayProxy:
    """`proxy.run(x)` == `ray.get(host.call.remote("run", x))`; `proxy.history` reads the
    attribute from the actor."""

    def __init__(self, handle: Any, name: str):
        self._handle, self._name = handle, name

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)
        if method in DATA_ATTRS:
            return ray.get(self._handle.attr.remote(method))

        def remote_call(*args: Any, **kwargs: Any) -> Any:
            return ray.get(self._handle.call.remote(method, *args, **kwargs))

        return remote_call

    @property
    def handle(self) -> Any:
        return self._handle


def start_agents(builders: dict[str, Builder], namespace: str) -> dict[str, RayProxy]:
    """One named actor per agent (`<namespace>.<agent>`), reused if already alive."""
    proxies = {}
    for name, builder in builders.items():
        actor_name = f"{namespace}.{name}"
        handle = AgentHost.options(name=actor_name, get_if_exists=True,
                                   lifetime="detached" if namespace == "shared" else None
                                   ).remote(name, builder)
        proxies[name] = RayProxy(handle, name)
    ray.get([p.handle.ping.remote() for p in proxies.values()])
    return proxies


def stop_agents(proxies: dict[str, RayProxy]) -> None:
    for p in proxies.values():
        try:
            ray.kill(p.handle, no_restart=True)
        except Exception as e:  # already gone
            log.debug("kill %s: %s", p._name, e)


@ray.remote(max_restarts=0, num_cpus=0)
class OrchestratorHost:
    """Runs one project's orchestrator inside the cluster (so `ray job submit` and the
    HTTP API drive cycles the same way the CLI does)."""

    def run(self, run_fn: Callable[[], Any]) -> Any:
        return run_fn()


def run_remote(run_fn: Callable[[], Any]) -> Any:
    return ray.get(OrchestratorHost.remote().run.remote(run_fn))
