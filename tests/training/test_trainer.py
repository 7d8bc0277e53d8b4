from __future__ import annotations

import pytest
import torch

from nanoresearch.types import ChatMessage, Feedback, Phase, PlannerCall
from storage.adapters import AdapterRegistry
from training.data import Triple
from training.history import PlannerHistory
from training.rounds import run_round
from training.sdpo_config import SDPOConfig
from training.trainer import SDPOTrainer


def _call(i: int, user: str = "alice") -> PlannerCall:
    return PlannerCall(call_id=f"c{i}", user_id=user, project_id="p1", stage="planning",
                       messages=[ChatMessage(role="user", content=f"Task {i}: plan a study of model {i}")],
                       output=f"1. load data {i}\n2. train a baseline\n3. report accuracy", created_at=1.0)


def _triples(n=2):
    return [Triple(call=_call(i), feedback="always add an efficiency analysis", feedback_id="f1") for i in range(n)]


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="SDPOConfig.lora_r"):
        SDPOConfig(lora_r=0)
    with pytest.raises(ValueError, match="SDPOConfig.loss"):
        SDPOConfig(loss="kl")
    gpu = SDPOConfig.gpu()
    assert (gpu.lora_r, gpu.lora_alpha, gpu.lora_dropout, gpu.steps, gpu.grad_clip) == (16, 32, 0.05, 50, 1.0)
    assert "down_proj" in gpu.target_modules and all(SDPOConfig.help().values())


def test_teacher_forward_has_no_grad(tiny_model_dir):
    tr = SDPOTrainer(tiny_model_dir, SDPOConfig(max_completion_tokens=16))
    from training.trainer import attach_lora

    model = attach_lora(tr.base_model, tr.config)
    ex = tr.build_examples(_triples(1))[0]
    t = tr.teacher_logits(model, ex)
    assert t.grad_fn is None and not t.requires_grad
    loss, _ = tr.example_loss(model, ex)
    loss.backward()
    assert any(p.grad is not None for n, p in model.named_parameters() if "lora_" in n)
    assert all(p.grad is None for n, p in model.named_parameters() if "lora_" not in n)


@pytest.mark.parametrize("loss", ["sampled_token", "full_kl", "topk_kl"])
def test_trainer_reduces_kl_and_saves_adapter(tiny_model_dir, tmp_path, loss):
    cfg = SDPOConfig(steps=12, learning_rate=1e-3, loss=loss, teacher="base", max_completion_tokens=24)
    tr = SDPOTrainer(tiny_model_dir, cfg)
    before = {k: v.clone() for k, v in tr.base_model.state_dict().items()}
    m = tr.train(_triples(), tmp_path / "ad")
    assert (tmp_path / "ad" / "adapter_config.json").exists()
    assert m["steps"] == 12 and m["triples"] == 2
    assert m["gap_last"] < 0.6 * m["gap_first"]  # student moved towards the teacher on y
    after = tr.base_model.state_dict()  # the shared base model is left untouched
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_round_publishes_versions_with_parent(tiny_model_dir, tmp_path):
    reg, hist = AdapterRegistry(tmp_path / "adapters"), PlannerHistory(tmp_path)
    tr = SDPOTrainer(tiny_model_dir, SDPOConfig(steps=2, max_completion_tokens=16))
    with pytest.raises(Exception, match="no planner calls paired"):
        run_round(tr, reg, hist, "alice")
    for i in range(2):
        hist.append_call(_call(i))
    hist.append_feedback(Feedback(user_id="alice", project_id="p1", phase=Phase.IDEATION,
                                  text="always add an efficiency analysis", created_at=5.0))
    v1 = run_round(tr, reg, hist, "alice")
    v2 = run_round(tr, reg, hist, "alice")
    assert (v1.version, v1.parent_version, v2.version, v2.parent_version) == (1, None, 2, 1)
    assert reg.current_version("alice") == 2 and v2.metrics["steps"] == 2.0
    assert reg.current_version("bob") is None


def test_on_policy_steps_train_on_responses_sampled_from_the_student(tiny_model_dir, tmp_path):
    cfg = SDPOConfig(steps=3, max_completion_tokens=16, on_policy=True, max_sample_tokens=8,
                     learning_rate=1e-3)
    tr = SDPOTrainer(tiny_model_dir, cfg)
    from training.trainer import attach_lora

    ex = tr.build_examples(_triples(1))[0]
    model = attach_lora(tr.base_model, cfg)
    gen = torch.Generator().manual_seed(0)
    new = tr.resample(model, ex, gen)
    assert new.student_ids[:new.student_start] == ex.student_ids[:ex.student_start]
    assert new.teacher_ids[:new.teacher_start] == ex.teacher_ids[:ex.teacher_start]
    assert 1 <= new.completion_len <= 8 and new.completion_ids == new.teacher_ids[new.teacher_start:]
    assert new.completion_ids != ex.completion_ids  # not the logged output
    tr.base_model = model.unload()
    m = tr.train(_triples(2), tmp_path / "ad")
    assert m["steps"] == 3 and (tmp_path / "ad" / "adapter_config.json").exists()
    with pytest.raises(ValueError, match="SDPOConfig.sample_temperature"):
        SDPOConfig(sample_temperature=0)
