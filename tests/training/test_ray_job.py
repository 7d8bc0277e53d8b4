"""The SDPO round through Ray Train (one gloo CPU worker) and in the background."""
from __future__ import annotations

import pytest

import json

from nanoresearch.types import AdapterVersion, ChatMessage, Feedback, Phase, PlannerCall, TrainingStep
from storage.adapters import AdapterRegistry
from training.history import PlannerHistory
from training.sdpo_config import SDPOConfig

CFG = SDPOConfig(steps=2, max_completion_tokens=16)


def _log(settings, user="alice"):
    h = PlannerHistory(settings.data_dir)
    h.append_call(PlannerCall(call_id="c1", user_id=user, project_id="p1", stage="planning",
                              messages=[ChatMessage(role="user", content="Task: plan a study")],
                              output="1. load data\n2. train", created_at=1.0))
    h.append_feedback(Feedback(user_id=user, project_id="p1", phase=Phase.IDEATION,
                               text="always add an efficiency analysis", created_at=2.0))


def _steps(progress):
    """The TrainingStep events a round appended to a project's progress.jsonl."""
    rows = [json.loads(line) for line in progress.read_text().splitlines()] if progress.exists() else []
    return [TrainingStep.model_validate(r) for r in rows if r.get("kind") == "training_step"]


def test_background_round_in_process_does_not_block(settings, tiny_model_dir, tmp_path):
    from training.ray_job import train_in_background

    _log(settings)
    done = []
    progress = tmp_path / "progress.jsonl"
    h = train_in_background(settings, "alice", tiny_model_dir, CFG, use_ray=False, on_done=done.append,
                            progress=progress)
    rec = h.wait(timeout=120)
    assert rec.version == 1 and rec.status == "published" and done == [h]
    # each optimizer step reached the project's progress channel with its loss
    steps = _steps(progress)
    assert [(e.user_id, e.step, e.steps) for e in steps] == [("alice", 1, 2), ("alice", 2, 2)]
    assert steps[-1].loss == pytest.approx(rec.metrics["loss_last"], rel=1e-4)
    assert AdapterRegistry(settings.adapters_dir).current_version("alice") == 1
    bad = train_in_background(settings, "nobody", tiny_model_dir, CFG, use_ray=False)
    with pytest.raises(Exception, match="no planner calls"):
        bad.wait(timeout=60)


def test_deepspeed_config_follows_sdpo_config():
    from training.ray_job import deepspeed_config

    ds = deepspeed_config(SDPOConfig.gpu())
    assert ds["zero_optimization"]["stage"] == 2 and ds["gradient_clipping"] == 1.0
    assert ds["bf16"]["enabled"] and ds["optimizer"]["params"]["lr"] == 1e-4


@pytest.mark.ray
@pytest.mark.timeout(400)
def test_ray_train_job_publishes_next_version(settings, tiny_model_dir, tmp_path):
    import ray

    from training.ray_job import run_sdpo_job
    from training.rounds import run_round_from_paths

    _log(settings)
    v1 = AdapterVersion.model_validate(run_round_from_paths(
        str(tiny_model_dir), str(settings.adapters_dir), str(settings.data_dir), "alice", CFG.to_dict()))
    started = not ray.is_initialized()
    try:  # the Ray Train job warm-starts from v1 (resolved on the driver) and publishes v2
        v2 = run_sdpo_job(settings, "alice", tiny_model_dir, CFG, progress=tmp_path / "progress.jsonl")
    finally:
        if started:
            ray.shutdown()
    assert (v1.version, v2.version, v2.parent_version) == (1, 2, 1)
    assert v2.metrics["steps"] == 2.0
    # the Train worker (rank 0) reported its steps into the project's progress channel
    assert [e.step for e in _steps(tmp_path / "progress.jsonl")] == [1, 2]
    reg = AdapterRegistry(settings.adapters_dir)
    assert reg.current_version("alice") == 2 and reg.resolve("alice", 2).exists()
    assert not list((settings.adapters_dir / ".staging").iterdir())
