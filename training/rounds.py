"""One feedback round, end to end and Ray-free: read the user's triples, train from their
current adapter, publish the next version. training/ray_job.py runs this same function
inside a Ray Train worker; tests and the CPU path call it directly."""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from nanoresearch.errors import RunFailure, UserError
from nanoresearch.types import AdapterVersion
from storage.adapters import AdapterRegistry
from training.history import PlannerHistory
from training.sdpo_config import SDPOConfig
from training.trainer import SDPOTrainer

log = logging.getLogger(__name__)


def numeric_metrics(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}


def train_adapter(trainer: SDPOTrainer, registry: AdapterRegistry, history: PlannerHistory,
                  user_id: str, out_dir: str | Path) -> tuple[dict, int | None]:
    """Train into `out_dir`; returns (metrics, parent version)."""
    triples = history.triples(user_id)
    if not triples:
        raise UserError(f"user {user_id!r} has no planner calls paired with feedback yet; "
                        "give feedback on a stage that used the planner first")
    parent = registry.current_version(user_id)
    init = registry.resolve(user_id, parent) if parent is not None and trainer.config.warm_start else None
    metrics = trainer.train(triples, out_dir, init_adapter=init)
    return metrics, parent


def run_round(trainer: SDPOTrainer, registry: AdapterRegistry, history: PlannerHistory,
              user_id: str) -> AdapterVersion:
    """Train and publish; the new version becomes current (served on the next request)."""
    with tempfile.TemporaryDirectory(prefix=f"sdpo-{user_id}-") as tmp:
        try:
            metrics, parent = train_adapter(trainer, registry, history, user_id, tmp)
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
                         config: dict | None = None, device: str = "cpu") -> dict:
    """Picklable entry point (plain strings in, a dict out) for Ray workers and threads."""
    trainer = SDPOTrainer(base_dir, SDPOConfig(**(config or {})), device=device)
    rec = run_round(trainer, AdapterRegistry(adapters_dir), PlannerHistory(data_dir), user_id)
    return rec.model_dump(mode="json")
