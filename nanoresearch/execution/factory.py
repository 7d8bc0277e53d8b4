"""Picking an executor from `settings.execution`.

The Ray job backend lives in `ray_jobs.py` (the only file here that imports ray), so it
is imported by name only when configured, keeping the rest importable without Ray.
"""
from __future__ import annotations

import importlib
import logging

from nanoresearch.errors import ConfigError
from nanoresearch.execution.base import Executor, Limits

log = logging.getLogger(__name__)
BACKENDS = {
    "sandbox": "nanoresearch.execution.sandbox:SandboxExecutor",
    "local": "nanoresearch.execution.local:LocalExecutor",
    "ray": "nanoresearch.execution.ray_jobs:RayJobExecutor",
    "slurm": "nanoresearch.execution.slurm:SlurmExecutor",
}


def make_executor(settings, **kwargs) -> Executor:
    """`settings` is a `Settings` (or anything with an `.execution` section)."""
    ex = settings.execution
    if ex.backend not in BACKENDS:
        raise ConfigError(f"execution.backend={ex.backend!r}; choose one of {', '.join(BACKENDS)}")
    if ex.backend == "local":
        if not getattr(ex, "allow_unsandboxed", False):
            raise ConfigError(
                "execution.backend=local runs model-written code on the host without any "
                "containment (it can read keys, other users' projects and the store); it is "
                "refused unless execution.allow_unsandboxed=true is set. Use backend=sandbox, "
                "ray or slurm, which run every experiment inside bubblewrap")
        log.warning("execution.allow_unsandboxed=true: experiments run UNCONTAINED on the host")
    else:
        kwargs.setdefault("require_cgroup", getattr(ex, "require_cgroup", False))
    module, cls_name = BACKENDS[ex.backend].split(":")
    cls = getattr(importlib.import_module(module), cls_name)
    limits = Limits.from_settings(ex)
    if ex.backend == "ray":
        kwargs.setdefault("address", ex.ray_address)
        cluster = getattr(settings, "cluster", None)  # experiments go where the agents go
        kwargs.setdefault("node_resource", getattr(cluster, "agent_node_resource", None))
    if ex.backend == "slurm":
        kwargs.setdefault("partition", ex.slurm_partition)
    log.info("execution backend: %s (timeout %.0fs, %d MB, %d cpu)", ex.backend,
             limits.timeout_s, limits.memory_mb, limits.cpus)
    return cls(limits=limits, **kwargs)
