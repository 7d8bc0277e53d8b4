"""Agents as Ray actors: a proxied actor behaves like the plain object, and an agent
whose process dies mid-call is restarted and the call retried (max_restarts /
max_task_retries), so the orchestrator only sees the result."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from actors.ray_app import RayProxy, init_ray, start_agents, stop_agents  # noqa: E402


class Flaky:
    """Dies (the whole actor process) on the first call, answers afterwards."""

    def __init__(self, marker: str):
        self.marker = Path(marker)
        self.history = ["built"]

    def work(self, x: int) -> tuple[int, int]:
        if not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)  # a crash, not an exception: only a restart can recover
        return x * 2, os.getpid()


@pytest.fixture()
def local_ray():
    started = not ray.is_initialized()
    init_ray(num_cpus=2)
    yield
    if started:  # later tests start their own private cluster
        ray.shutdown()


@pytest.mark.ray
def test_killed_agent_is_restarted_and_the_call_retried(tmp_path, local_ray):
    marker = str(tmp_path / "died")
    agents = start_agents({"flaky": lambda: Flaky(marker)}, namespace="t-restart")
    try:
        proxy = agents["flaky"]
        assert isinstance(proxy, RayProxy) and proxy.history == ["built"]
        value, pid = proxy.work(21)
        assert value == 42
        assert int(Path(marker).read_text()) != pid  # answered by a new process
    finally:
        stop_agents(agents)
