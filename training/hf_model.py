"""The planner's base model as a Hugging Face directory (what LoRA trains and serves on).

The embedded SmolLM2 ships as a GGUF; `nanoresearch.llm.embedded.ensure_hf_model`
dequantises it once into `settings.models_dir/smollm2-hf/` (checksummed, locked). This
module is the one place training/ and serve/ ask for it, so a planner base other than
the embedded model (`providers.embedded_model_path` = an HF dir) needs no other change.
"""
from __future__ import annotations

from pathlib import Path

from nanoresearch.config import Settings
from nanoresearch.llm.engines.paths import smollm2_gguf
from nanoresearch.llm.embedded import ensure_hf_model


def ensure_base_model(settings: Settings) -> Path:
    return Path(ensure_hf_model(settings))


def smollm2_gguf_path() -> Path:
    return smollm2_gguf()
