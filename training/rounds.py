"""One feedback round, end to end and Ray-free: read the user's triples, train from their
current adapter, publish the next version. training/ray_job.py runs this same function
inside a Ray Train worker; tests and the CPU path call it directly."""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from typing import Callable

from nanoresearch.errors import RunFailure, UserError
from nanoresearch.progress import ProgressChannel
from nanoresearch.types import AdapterVersion, TrainingStep
from storage.adapters import AdapterRegistry
from training.history import PlannerHistory
from training.sdpo_config import SDPOConfig
from training.trainer import SDPOTrainer

log = logging.getLogger(__name__)


def numeric_metrics(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}


OnStep = Callable[[int, dict[str, float]], None]


def step_reporter(progress: str | Path | None, user_id: str, steps: int) -> OnStep | None:
    """`on_step` for the trainer that appends a TrainingStep event per optimizer step to
    a project's progress.jsonl (nanoresearch/progress.py), so the CLI and the page show a
    round's loss while it trains; None without a project (CLI feedback, benchmarks)."""
    if not progress:
        return None
    channel = ProgressChannel(Path(progress))

    def on_step(step: int, stats: dict[str, float]) -> None:
        channel.report(TrainingStep(user_id=user_id, step=step, steps=steps,
                                    loss=float(stats.get("loss", 0.0))))

    return on_step


def train_adapter(trainer: SDPOTrainer, registry: AdapterRegistry, history: PlannerHistory,
                  user_id: str, out_dir: str | Path, on_step: OnStep | None = None) -> tuple[dict, int | None]:
    """Train into `out_dir`; returns (metrics, parent version)."""
    triples = history.triples(user_id)
    if not triples:
        raise UserError(f"user {user_id!r} has no planner calls paired with feedback yet; "
                        "give feedback on a stage that used the planner first")
    parent = registry.current_version(user_id)
    init = registry.resolve(user_id, parent) if parent is not None and trainer.config.warm_start else None
    metrics = trainer.train(triples, out_dir, init_adapter=init, on_step=on_step)
    return metrics, parent


def run_round(trainer: SDPOTrainer, registry: AdapterRegistry, history: PlannerHistory,
              user_id: str, on_step: OnStep | None = None) -> AdapterVersion:
    """Train and publish; the new version becomes current (served on the next request)."""
    with tempfile.TemporaryDirectory(prefix=f"sdpo-{user_id}-") as tmp:
        try:
            metrics, parent = train_adapter(trainer, registry, history, user_id, tmp, on_step)
        except (UserError, ValueError):
            raise
        except Exception as e:  # noqa: BLE001 - surfaced as a run failure with the cause
            raise RunFailure(f"SDPO training for user {user_id!r} failed: {e}") from e
        rec = registry.publish(user_id, tmp, parent_version=parent,
                               base_model=trainer.base_dir.name, metrics=numeric_metrics(metrics))
    log.info("user %s: adapter v%d published (loss %.4f -> %.4f)", user_id, rec.version,
             metrics["loss_first"], metrics["loss_last"])
    return rec


def run_round_from_paths(base_dir: str, adapters_dir: str, data_dir: str, user_id: str,
                         config: dict | None = None, device: str = "cpu",
                         progress: str | None = None) -> dict:
    """Picklable entry point (plain strings in, a dict out) for Ray workers and threads;
    `progress`: the project's progress.jsonl, for a TrainingStep event per step."""
    cfg = SDPOConfig(**(config or {}))
    trainer = SDPOTrainer(base_dir, cfg, device=device)
    rec = run_round(trainer, AdapterRegistry(adapters_dir), PlannerHistory(data_dir), user_id,
                    step_reporter(progress, user_id, cfg.steps))
    return rec.model_dump(mode="json")
