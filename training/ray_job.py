"""SDPO as a Ray Train job.

`run_sdpo_job(settings, user_id)` trains the user's next adapter in a TorchTrainer and
publishes it through the AdapterRegistry from the driver, so only a finished,
checksummed adapter ever becomes `current` (the live Serve replica follows that pointer
from its next request). Where the workers run is decided by the cluster (`sdpo_scaling`:
`training.resources`, else the `trainer` node's GPUs, else one CPU worker with gloo);
each worker picks DeepSpeed ZeRO-2 itself when *it* sees a GPU and has deepspeed, the
user's triples sharded by rank. Workers write into a staging dir under
`settings.adapters_dir`, which must be shared storage on a multi-node cluster
(cluster.yaml mounts it).

`train_in_background(...)` runs that job in a thread (training/background.py, which
`--no-ray` uses without importing Ray).
"""
from __future__ import annotations

import json
import logging
import shutil
import uuid
from pathlib import Path
from typing import Any

import ray
import torch
from ray.train import RunConfig, ScalingConfig
from ray.train.torch import TorchConfig, TorchTrainer

from nanoresearch.config import Settings
from nanoresearch.errors import RunFailure, UserError
from nanoresearch.ray_runtime import cluster_offers, init_ray_for, trainer_resources
from nanoresearch.types import AdapterVersion
from storage.adapters import AdapterRegistry
from training.history import PlannerHistory
from training.background import BackgroundTraining, train_in_background as _train_in_background
from training.rounds import numeric_metrics, step_reporter
from training.sdpo_config import SDPOConfig
from training.trained_by import RAY_TRAIN_METRIC
from training.trainer import SDPOTrainer

log = logging.getLogger(__name__)


def deepspeed_config(cfg: SDPOConfig) -> dict[str, Any]:
    """ZeRO-2 (optimizer state + gradients sharded; LoRA params are small, so stage 3
    buys nothing), bf16, the config's clip, AdamW with its lr."""
    return {
        "train_micro_batch_size_per_gpu": 1,
        "gradient_accumulation_steps": 1,  # the trainer accumulates a batch itself
        "gradient_clipping": cfg.grad_clip or 0.0,
        "bf16": {"enabled": cfg.dtype == "bfloat16"},
        "zero_optimization": {"stage": 2, "overlap_comm": True, "contiguous_gradients": True},
        "optimizer": {"type": "AdamW", "params": {"lr": cfg.learning_rate, "weight_decay": cfg.weight_decay}},
    }


class DeepSpeedStepper:
    """The optimizer side of an SDPO step on a DeepSpeed engine (GPU workers)."""

    def __init__(self, model, config: SDPOConfig):
        import deepspeed  # lazy: only on GPU workers with the [gpu] extra

        params = [p for p in model.parameters() if p.requires_grad]
        self.engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=params,
                                                    config=deepspeed_config(config))

    def zero_grad(self) -> None:
        self.engine.zero_grad()

    def backward(self, loss: torch.Tensor) -> None:
        self.engine.backward(loss)

    def step(self) -> float:
        self.engine.step()
        return float(self.engine.get_global_grad_norm() or 0.0)


class DeepSpeedSDPOTrainer(SDPOTrainer):
    def make_stepper(self, model):
        return DeepSpeedStepper(model, self.config)


def _use_deepspeed() -> bool:
    import importlib.util
    return torch.cuda.is_available() and importlib.util.find_spec("deepspeed") is not None


def train_loop_per_worker(loop: dict[str, Any]) -> None:
    """Runs on every Ray Train worker: rank 0 saves the adapter to the staging dir."""
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = f"cuda:{ctx.get_local_rank()}" if torch.cuda.is_available() else "cpu"
    torch.set_num_threads(max(1, int(loop.get("threads", 1))))
    cls = DeepSpeedSDPOTrainer if _use_deepspeed() else SDPOTrainer
    trainer = cls(loop["base_dir"], SDPOConfig(**loop["config"]), device=device)
    triples = PlannerHistory(loop["data_dir"]).triples(loop["user_id"])
    shard = triples[rank::world] or triples  # every rank needs at least one triple
    out = loop["staging"] if rank == 0 else f"{loop['staging']}.rank{rank}"
    on_step = step_reporter(loop.get("progress"), loop["user_id"], trainer.config.steps) if rank == 0 else None
    metrics = numeric_metrics(trainer.train(shard, out, init_adapter=loop.get("init_adapter"), on_step=on_step))
    metrics[RAY_TRAIN_METRIC] = float(world)  # the adapter's record says a Train job made it
    if rank == 0:  # beside the adapter, not in it: Result.metrics is not kept without a checkpoint
        Path(f"{loop['staging']}.metrics.json").write_text(json.dumps(metrics))
    ray.train.report(metrics)


def sdpo_scaling(settings: Settings, num_workers: int | None = None) -> tuple[ScalingConfig, TorchConfig]:
    """Workers and their resources from `training.resources`, or from what the cluster
    offers (a `trainer` node's GPUs, else a GPU, else one CPU worker); never from this
    driver's CUDA. NCCL between GPU workers, gloo otherwise."""
    res, workers = trainer_resources(settings.training.resources,
                                     num_workers or settings.training.num_workers, cluster_offers())
    use_gpu = res.get("GPU", 0) > 0
    # ScalingConfig takes the GPU through use_gpu; CPU and custom resources (trainer) here
    per_worker = {k: v for k, v in res.items() if k != "GPU"}
    return (ScalingConfig(num_workers=workers, use_gpu=use_gpu, resources_per_worker=per_worker),
            TorchConfig(backend="nccl" if use_gpu else "gloo"))


def run_sdpo_job(settings: Settings, user_id: str, base_dir: str | Path, config: SDPOConfig | None = None,
                 num_workers: int | None = None, progress: str | Path | None = None) -> AdapterVersion:
    """Train the user's next adapter with Ray Train and publish it (becomes current)."""
    cfg = config or SDPOConfig.from_settings(settings.training)
    registry, history = AdapterRegistry(settings.adapters_dir), PlannerHistory(settings.data_dir)
    if not history.triples(user_id):
        raise UserError(f"user {user_id!r} has no planner calls paired with feedback yet; nothing to train")
    parent = registry.current_version(user_id)
    init = str(registry.resolve(user_id, parent)) if parent is not None and cfg.warm_start else None
    staging = Path(settings.adapters_dir) / ".staging" / f"{user_id}-{uuid.uuid4().hex[:8]}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    init_ray_for(settings)
    scaling, torch_config = sdpo_scaling(settings, num_workers)
    log.info("SDPO job for %s: %s", user_id, scaling)
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"base_dir": str(base_dir), "config": cfg.to_dict(), "user_id": user_id,
                           "data_dir": str(settings.data_dir), "staging": str(staging),
                           "init_adapter": init, "threads": settings.providers.embedded_threads,
                           "progress": str(progress) if progress else None},
        torch_config=torch_config, scaling_config=scaling,
        run_config=RunConfig(name=staging.name, storage_path=str(Path(settings.data_dir) / "ray_results")))
    try:
        trainer.fit()
        if not (staging / "adapter_config.json").exists():
            raise RunFailure(f"SDPO job for {user_id!r} finished without saving an adapter in {staging}")
        return registry.publish(user_id, staging, parent_version=parent, base_model=Path(base_dir).name,
                                metrics=json.loads(Path(f"{staging}.metrics.json").read_text()))
    except (UserError, RunFailure):
        raise
    except Exception as e:  # noqa: BLE001 - Ray wraps worker errors; keep the cause
        raise RunFailure(f"SDPO Ray Train job for user {user_id!r} failed: {e}") from e
    finally:
        for p in staging.parent.glob(staging.name + "*"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


def train_in_background(settings: Settings, user_id: str, base_dir: str | Path,
                        config: SDPOConfig | None = None, *, use_ray: bool = True,
                        on_done=None, progress: str | Path | None = None) -> BackgroundTraining:
    """A feedback round as a Ray Train job (`use_ray`, the default) or in-process; see
    training/background.py, which `--no-ray` imports without importing Ray."""
    job = (lambda: run_sdpo_job(settings, user_id, base_dir, config, progress=progress)) if use_ray else None
    return _train_in_background(settings, user_id, base_dir, config, job=job, on_done=on_done,
                                progress=progress)
