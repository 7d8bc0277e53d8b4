"""One-time GGUF -> Hugging Face conversion of the embedded model.

transformers loads a GGUF with `gguf_file=` (de-quantizing on every load, ~20 s) but
refuses `save_pretrained` on such a model. So we build a clean model from the config
without its quantization entry, load the de-quantized state dict, and save it (float32
safetensors + tokenizer) under `settings.models_dir/<name>-hf/` with a checksum file.
Later loads take seconds. `ensure_hf_model(settings)` is also the LoRA base path for the
planner and SDPO training. A file lock makes concurrent processes convert only once.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from nanoresearch.config import Settings
from nanoresearch.errors import RunFailure
from nanoresearch.llm.engines.paths import is_default_model, resolve_model_path

log = logging.getLogger(__name__)
CHECKSUM_FILE = "nanoresearch_checksum.json"
WEIGHTS_FILE = "model.safetensors"


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def hf_dir_for(settings: Settings, gguf: Path) -> Path:
    name = "smollm2" if is_default_model(gguf) else gguf.stem.lower()
    return settings.models_dir / f"{name}-hf"


def _valid(dest: Path, gguf: Path) -> bool:
    meta_path = dest / CHECKSUM_FILE
    if not meta_path.exists() or not (dest / WEIGHTS_FILE).exists():
        return False
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError:
        return False
    # the source is compared by size (cheap); the weights by their full hash
    return (meta.get("source_size") == gguf.stat().st_size
            and meta.get("weights_sha256") == sha256_file(dest / WEIGHTS_FILE))


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quant = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                 dtype=torch.float32)
    cfg_dict = quant.config.to_dict()
    cfg_dict.pop("quantization_config", None)
    cfg = type(quant.config).from_dict(cfg_dict)
    clean = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
    missing, unexpected = clean.load_state_dict(quant.state_dict(), strict=False)
    # tied output embeddings may be absent from the state dict; anything else is a bug
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise RunFailure(f"GGUF conversion of {gguf} mismatched weights: "
                         f"missing={missing[:5]} unexpected={unexpected[:5]}")
    clean.generation_config = quant.generation_config
    clean.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)


def ensure_hf_model(settings: Settings, model: str = "smollm2") -> Path:
    """Return an HF model dir for the embedded model, converting the GGUF once.

    `model` is what follows `embedded:` in a spec ('smollm2' or a path). An HF dir is
    returned as is. The result is the base for LoRA adapters (planner, SDPO)."""
    src = resolve_model_path(settings, model)
    if src.is_dir():
        return src
    dest = hf_dir_for(settings, src)
    with _file_lock(dest.parent / f".{dest.name}.lock"):
        if _valid(dest, src):
            return dest
        log.info("converting %s to an HF model dir at %s (one time)", src.name, dest)
        tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        _convert(src, tmp)
        meta = {"source": str(src), "source_size": src.stat().st_size,
                "source_sha256": sha256_file(src),
                "weights_sha256": sha256_file(tmp / WEIGHTS_FILE)}
        (tmp / CHECKSUM_FILE).write_text(json.dumps(meta, indent=1))
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    return dest
