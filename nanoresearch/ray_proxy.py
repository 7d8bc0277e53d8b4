"""One proxy that makes a Ray actor handle look like the plain object the actor holds.

Both Ray hosts in the house use it: the agent hosts (actors/ray_app.py: `RayProxy`) and the
storage owner (storage/ray_store.py: `RemoteStore`). The actor exposes
`call(method, *args, **kwargs)`; the proxy turns `proxy.m(x)` into
`ray.get(handle.call.remote("m", x))`. Which names are methods is learnt from the class
when the proxy is given one (no hop), else from the object in the actor (its `resolve`
method: a data attribute is then read from the actor on each access, so never stale).
A proxy pickles as its handle, so one handed to another actor still reaches the same
actor. Private names (`_x`) are never forwarded.
"""
from __future__ import annotations

import threading
import time
from typing import Any

import ray

# this process's proxy calls of proxies with `count_hops`: count and wall seconds (the Ray
# overhead benchmark compares them with the seconds spent inside the agents)
_HOPS = {"calls": 0, "wall_s": 0.0}
_HOPS_LOCK = threading.Lock()


def hops() -> dict[str, float]:
    with _HOPS_LOCK:
        return dict(_HOPS)


class ActorProxy:
    """`proxy.run(x)` == `ray.get(handle.call.remote("run", x))`.

    `cls`: the held object's class; when given, a name is a method iff the class has it
    as a public callable (anything else is an AttributeError, with no hop). Without it
    the actor must implement `resolve(name) -> ("method" | "data", value)`."""

    count_hops = False

    def __init__(self, handle: Any, name: str = "", cls: type | None = None):
        self._handle, self._name, self._cls = handle, name, cls
        self._methods: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._cls is not None:
            if not callable(getattr(self._cls, name, None)):
                raise AttributeError(f"{self._cls.__name__} has no public method {name!r}")
        elif name not in self._methods:
            t0 = time.perf_counter()
            kind, value = ray.get(self._handle.resolve.remote(name))
            self._hop(t0)
            if kind == "data":
                return value
            self._methods.add(name)  # methods stay methods; data is re-read on each access

        def remote_call(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return ray.get(self._handle.call.remote(name, *args, **kwargs))
            finally:
                self._hop(t0)

        remote_call.__name__ = name
        return remote_call

    def _hop(self, t0: float) -> None:
        if self.count_hops:
            with _HOPS_LOCK:
                _HOPS["calls"] += 1
                _HOPS["wall_s"] += time.perf_counter() - t0

    def _init_args(self) -> tuple:
        return (self._handle, self._name, self._cls)

    def __reduce__(self):  # a proxy handed to another actor keeps pointing at the same actor
        return (type(self), self._init_args())

    @property
    def handle(self) -> Any:
        return self._handle
