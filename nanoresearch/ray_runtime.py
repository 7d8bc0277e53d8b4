"""The one way this code base starts or joins Ray, and the placement rules.

`init_ray` joins `address` / $RAY_ADDRESS (a cluster, `ray job submit`), else starts a
local Ray on loopback. Every Ray entry point (the composition root, Serve, the SDPO Train
job, the sweep) calls it, so the namespace, the environment shipped to workers and the
local CPU count are the same everywhere.

Placement is decided by what the *cluster* offers (`ray.cluster_resources()`), never by
the driver's CUDA: the driver of `cluster.yaml` is a CPU head, while the planner replica
and the SDPO workers belong on the `gpu_planner` / `gpu_trainer` nodes, which advertise
the `planner` / `trainer` custom resources.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import ray

from nanoresearch import local_head, offline

log = logging.getLogger(__name__)
NAMESPACE = "nanoresearch"
# shipped to every worker (with offline.env(), whatever the driver's process set): offline
# flags and thread counts; never credentials
ENV_PREFIXES = ("NANORESEARCH_", "HF_", "TRANSFORMERS_", "OMP_NUM_THREADS", "TOKENIZERS_")
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")
# agents mostly wait on model calls: a local node advertises at least this many logical
# CPUs so several projects' teams (about 9 CPUs each with the planner replica) run side
# by side on a laptop instead of queueing; a cluster's nodes advertise their real counts.
# Logical only: Ray does not start a worker per CPU.
LOCAL_LOGICAL_CPUS = 32


def worker_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    return {k: v for k, v in env.items() if k.startswith(ENV_PREFIXES)
            and not any(w in k.upper() for w in SECRET_WORDS)}


def init_ray(address: str | None = None, *, num_cpus: int | None = None,
             namespace: str = NAMESPACE, env: dict[str, str] | None = None,
             share_dir: Path | None = None, **kw: Any) -> bool:
    """Join a cluster or start a local Ray; True when this call started or joined it.
    `env` adds job-level variables for every worker (set per job, not per task: a
    per-task runtime_env makes Ray start dedicated worker processes, seconds each).
    `share_dir` (the data dir's ray/ folder): a local Ray is shared between the
    nanoresearch processes of one data dir (local_head.py), so they share its store owner
    and planner replica instead of fighting over the embedded store."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    opts: dict[str, Any] = dict(namespace=namespace, log_to_driver=False,
                                runtime_env={"env_vars": {**offline.env(), **worker_env(), **(env or {})}}, **kw)
    if address:
        ray.init(address=address, **opts)
        return True
    # a loaded laptop can take longer than Ray's default 30 s to register its raylet
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "120")
    cpus = num_cpus or max(os.cpu_count() or 1, LOCAL_LOGICAL_CPUS)
    if share_dir is None:
        ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=cpus, **opts)
        return True
    with local_head.starting(share_dir):  # two processes started at once: one starts, one joins
        if local_head.join(share_dir, lambda a: _connect(a, opts)):
            return True
        _pin_auth_token()
        ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=cpus, **opts)
        local_head.publish(share_dir, ray.get_runtime_context().gcs_address, _pin_auth_token())
    return True


def _connect(address: str, opts: dict[str, Any]) -> None:
    """Join a local head by its address. Ray only turns token auth on by itself for
    address="auto"; with an explicit address the driver must switch it on (and refresh
    Ray's cached config, as Ray's own setup does) or the head rejects it."""
    if os.environ.get("RAY_AUTH_TOKEN") and "RAY_AUTH_MODE" not in os.environ:
        try:
            from ray._private.authentication.authentication_token_setup import _enable_token_auth
        except ImportError:  # a Ray without token auth: nothing to switch on
            pass
        else:
            _enable_token_auth()
    ray.init(address=address, **opts)


def _pin_auth_token() -> str | None:
    """Ray >= 2.59 protects local clusters with a token (~/.ray/auth_token, which another
    local cluster may rewrite): pin the one this head uses, so joiners get the same."""
    from nanoresearch.execution.ray_jobs import find_auth_token

    token = find_auth_token()
    if token:
        os.environ["RAY_AUTH_TOKEN"] = token
    return token


def init_ray_for(settings: Any) -> bool:
    """init_ray as every nanoresearch command calls it (a cluster when configured, else the
    data dir's shared local Ray)."""
    return init_ray(settings.execution.ray_address, share_dir=Path(settings.data_dir) / "ray")


# ---------------------------------------------------------------------- placement
def actor_options(resources: dict[str, float]) -> dict[str, Any]:
    """{"CPU": 1, "GPU": 1, "planner": 1} -> ray options (num_cpus, num_gpus, resources)."""
    res = dict(resources)
    opts: dict[str, Any] = {"num_cpus": float(res.pop("CPU", 0)), "num_gpus": float(res.pop("GPU", 0))}
    if res:
        opts["resources"] = {k: float(v) for k, v in res.items()}
    return opts


def cluster_offers() -> dict[str, float]:
    return dict(ray.cluster_resources()) if ray.is_initialized() else {}


def planner_resources(configured: dict[str, float] | None, offers: dict[str, float]) -> dict[str, float]:
    """The planner replica's request: the setting, else a `planner` node (with its GPU),
    else any GPU, else one CPU."""
    if configured:
        return dict(configured)
    return _accelerated("planner", offers)


def trainer_resources(configured: dict[str, float] | None, num_workers: int | None,
                      offers: dict[str, float]) -> tuple[dict[str, float], int]:
    """(resources per Train worker, number of workers). On a `trainer` node with N GPUs:
    N GPU workers (DeepSpeed picks itself inside each worker); else one worker."""
    if configured:
        return dict(configured), num_workers or 1
    res = _accelerated("trainer", offers)
    if "trainer" in res and res.get("GPU"):
        # the custom resource marks the node (1 per node); split it over its GPU workers
        gpus = int(offers.get("GPU", 1) // max(1, offers.get("trainer", 1)))
        n = num_workers or max(1, gpus)
        res["trainer"] = 1.0 / n
        return res, n
    return res, num_workers or 1


def _accelerated(marker: str, offers: dict[str, float]) -> dict[str, float]:
    res = {"CPU": 1.0}
    if offers.get(marker, 0) > 0:
        res[marker] = min(1.0, offers[marker])
    if offers.get("GPU", 0) >= 1:
        res["GPU"] = 1.0
    return res
