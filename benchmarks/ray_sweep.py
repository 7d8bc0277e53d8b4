"""Sweep cells as Ray tasks: the only sweep module that imports ray.

Each cell is one Ray task with num_cpus=1 (a cycle runs in-process inside it; its
sandboxed experiments use that CPU). The driver keeps at most `workers` cells in flight
and submits a chain's next round only when the previous one returned, so rounds of a
chain stay in order while chains run side by side. With RAY_ADDRESS set the tasks go to
that cluster (the out dir must then be on storage every node shares).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable

import ray

from benchmarks.sweep_cells import Cell, ChainScheduler, SweepLayout
from nanoresearch.ray_runtime import init_ray

log = logging.getLogger(__name__)
# the offline variables travel with every Ray job (ray_runtime.init_ray)
TASK_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def ensure_ray(workers: int) -> bool:
    """Connect to RAY_ADDRESS, or start a loopback-only local Ray with `workers` CPUs;
    True when this call started it (so the caller shuts it down)."""
    return init_ray(num_cpus=workers, env=TASK_ENV)


def _limit_threads() -> None:
    # on a cluster the job's env may lack TASK_ENV; torch reads its own setting
    for k, v in TASK_ENV.items():
        os.environ.setdefault(k, v)
    import torch
    torch.set_num_threads(1)


@ray.remote(num_cpus=1, max_retries=1)
def _cell_task(cfg: Any, cell: Cell) -> Any:
    # a retry after a worker crash resumes the cell's project where it stopped
    from benchmarks.sweep import run_cell
    _limit_threads()
    return run_cell(cfg, cell)


def run_chains_ray(cfg: Any, chains: list[list[Cell]], workers: int,
                   on_result: Callable[[Cell, Any], None],
                   on_start: Callable[[Cell], None] | None = None,
                   task_fn: Any = None) -> None:
    """Run every pending chain; `on_result(cell, record_or_exception)` per finished cell.
    `task_fn` (a ray.remote function of (cfg, cell)) replaces the real cell for benchmarks."""
    started = ensure_ray(workers)
    fn = task_fn or _cell_task
    layout = SweepLayout(cfg.out_dir) if hasattr(cfg, "out_dir") else None

    def submit(cell: Cell):
        on_start(cell) if on_start else None
        return fn.remote(cfg, cell)

    def wait(refs: list) -> tuple[Any, Any]:
        (ref,), _ = ray.wait(refs, num_returns=1)
        try:
            return ref, ray.get(ref)
        except Exception as e:  # noqa: BLE001 - a crashed task fails its chain, not the sweep
            return ref, e

    def done(cell: Cell, result: Any) -> None:
        if layout is not None and not isinstance(result, BaseException) and hasattr(result, "task"):
            layout.save(result)  # also here: the task may have run on a node without our disk
        on_result(cell, result)

    try:
        ChainScheduler(chains, workers).run(submit, wait, done)
    finally:
        if started:
            ray.shutdown()


def remote_cell(fn: Callable[[Any, Cell], Any]):
    """`fn(cfg, cell)` as a Ray task with the sweep's resource limit (benchmarks pass
    simulated cells through the same scheduler this way)."""
    return ray.remote(num_cpus=1, max_retries=0)(fn)


def warm_workers(n: int, modules: tuple[str, ...] = ()) -> None:
    """Start `n` worker processes and import `modules` in each before timing anything
    (process start-up and imports are paid once per worker, not per cell)."""
    @ray.remote(num_cpus=1)
    def _noop(i: int) -> int:
        import importlib
        import time
        for m in modules:
            importlib.import_module(m)
        time.sleep(1.0)  # held long enough that the n tasks land on n different workers
        return i

    ray.get([_noop.remote(i) for i in range(n)])


def shutdown() -> None:
    ray.shutdown()
