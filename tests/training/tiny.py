"""A tiny randomly-initialised Llama-shaped planner with SmolLM2's real tokenizer and
chat template, saved as an HF directory: fast enough for unit tests, same code paths as
the real model."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from training.hf_model import smollm2_gguf_path


def tiny_config(vocab_size: int, **kw):
    from transformers import LlamaConfig

    base = dict(vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    return LlamaConfig(**{**base, **kw})


def make_tiny_model_dir(out: Path, seed: int = 0) -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer, LlamaForCausalLM

    gguf = smollm2_gguf_path()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_config(len(tok)))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
