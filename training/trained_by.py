"""Which path trained an adapter, read from the adapter's own record.

A Ray Train worker adds `ray_train_workers` (its world size) to the metrics it saves
beside the adapter (training/ray_job.py); the in-process round (training/rounds.py) does
not. So a published `AdapterVersion` says how it was trained, and the sweep's cells and
a project's planner_updates.json report it from that evidence, not from what was asked.
"""
from __future__ import annotations

from typing import Mapping

RAY_TRAIN_METRIC = "ray_train_workers"
RAY_TRAIN, IN_PROCESS = "ray_train", "in_process"


def trained_by(metrics: Mapping[str, float]) -> str:
    return RAY_TRAIN if RAY_TRAIN_METRIC in metrics else IN_PROCESS
