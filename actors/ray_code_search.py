"""Running a batch of code-search nodes as parallel Ray tasks (the only Ray part of the
code search; the search itself is nanoresearch/coding/search.py).

Each node already sits in its own work dir; a task runs it through the configured
executor (its own bubblewrap sandbox by default) and returns the `RunResult`. Tasks ask
Ray for one CPU each, so `parallel` nodes run at once only where the cluster has the
cores. Work dirs are on this machine's disk: a multi-node cluster needs a shared
filesystem for the project directory.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import ray

from nanoresearch.types import RunResult


@ray.remote(num_cpus=1, max_retries=0)
def _run_node(executor: Any, work_dir: str, entrypoint: str) -> RunResult:
    return executor.run(Path(work_dir), entrypoint)


class RayBatchRunner:
    """`run(executor, [(work_dir, entrypoint), ...]) -> [RunResult, ...]` in parallel."""

    def __init__(self, address: str | None = None):
        if not ray.is_initialized():
            from actors.ray_app import init_ray
            init_ray(address)

    def run(self, executor: Any, jobs: list[tuple[Path, str]]) -> list[RunResult]:
        refs = [_run_node.remote(executor, str(wd), ep) for wd, ep in jobs]
        return list(ray.get(refs))
