"""The storage owner as a Ray actor (the only storage module that imports ray).

Embedded Qdrant (edge or client local mode) locks its path to one process, so in those
modes one named actor owns the StoreService and every other actor calls it through a
`RemoteStore`, which has the same methods as StoreService and blocks on each call.
With a Qdrant server (`storage.backend=server`) no owner is needed: `connect_store`
returns a StoreService built in the calling process.

    store = connect_store(settings)      # inside any actor or the driver
    store.retrieve_skills("tokenizer mismatch", stage="debugging", user_id="ana")
"""
from __future__ import annotations

import logging
from typing import Any

import ray

from nanoresearch.config import Settings
from nanoresearch.ray_proxy import ActorProxy
from storage.service import StoreService, open_store

log = logging.getLogger(__name__)
ACTOR_NAME = "nanoresearch-store"
NAMESPACE = "nanoresearch"


class StoreActor:
    """Holds the StoreService; `call` dispatches to its public methods only."""

    def __init__(self, settings: Settings):
        self.service = open_store(settings)

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if method.startswith("_") or not callable(getattr(StoreService, method, None)):
            raise AttributeError(f"StoreService has no public method {method!r}")
        return getattr(self.service, method)(*args, **kwargs)

    def ping(self) -> str:
        return "ok"


class RemoteStore(ActorProxy):
    """Synchronous proxy (nanoresearch/ray_proxy.py): `remote_store.retrieve_skills(...)` ==
    `ray.get(actor.call.remote("retrieve_skills", ...))`; only StoreService's public
    methods are forwarded."""

    def __init__(self, handle: "ray.actor.ActorHandle"):
        super().__init__(handle, ACTOR_NAME, StoreService)

    def _init_args(self) -> tuple:
        return (self._handle,)


def store_actor(settings: Settings, name: str = ACTOR_NAME, namespace: str = NAMESPACE,
                detached: bool = False) -> "ray.actor.ActorHandle":
    """Get or create the single named owner actor (get_if_exists makes the race between
    two callers safe). `detached` keeps it alive after the creating driver exits."""
    opts: dict[str, Any] = dict(name=name, namespace=namespace, get_if_exists=True,
                                num_cpus=0, max_concurrency=4)
    if detached:
        opts["lifetime"] = "detached"
    return ray.remote(StoreActor).options(**opts).remote(settings)


def connect_store(settings: Settings, **actor_kwargs: Any) -> StoreService | RemoteStore:
    """Server mode: a direct StoreService; embedded modes: a proxy to the owner actor."""
    if settings.storage.backend == "server":
        return open_store(settings)
    handle = store_actor(settings, **actor_kwargs)
    ray.get(handle.ping.remote())  # surface an open failure here, with its message
    return RemoteStore(handle)
