"""Shared helpers for the planner tests: a tiny planner model dir and random LoRA
adapters published per user."""
from __future__ import annotations

from pathlib import Path

import torch

from storage.adapters import AdapterRegistry


def random_adapter(model_dir: Path, out: Path, seed: int) -> Path:
    """A LoRA with random A and B (peft's init_lora_weights=False) scaled up so that it
    visibly changes the tiny model's greedy output."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(str(model_dir))
    cfg = LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"],
                     init_lora_weights=False, task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    model.save_pretrained(str(out))
    return out


def publish_random(reg: AdapterRegistry, model_dir: Path, tmp: Path, user: str, seed: int):
    src = random_adapter(model_dir, tmp / f"src-{user}-{seed}", seed)
    parent = reg.current_version(user)
    return reg.publish(user, src, parent_version=parent, base_model="tiny")
