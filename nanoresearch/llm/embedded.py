"""The embedded local model (SmolLM2-135M-Instruct by default), offline.

`embedded_llm(settings, model)` returns the engine for `providers.embedded_engine`:
"auto" picks llama.cpp when llama-cpp-python is importable, else transformers; "vllm"
needs vLLM. Engines are heavy, so one instance per (engine, model path) is cached per
process and shared by every agent in it (each engine serialises its own calls).

`ensure_hf_model(settings) -> Path` converts the GGUF once into an HF model dir under
`settings.models_dir/smollm2-hf/` and returns it: the base model for the planner's LoRA
adapters (serve/) and SDPO training (training/).
"""
from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path

from nanoresearch.config import Settings
from nanoresearch.errors import UserError
from nanoresearch.llm.base import LLM
from nanoresearch.llm.engines.hf_convert import ensure_hf_model
from nanoresearch.llm.engines.paths import is_default_model, resolve_model_path, smollm2_gguf

log = logging.getLogger(__name__)
ENGINES = ("auto", "llama_cpp", "transformers", "vllm")
__all__ = ["ENGINES", "available_engines", "choose_engine", "clear_engine_cache",
           "embedded_llm", "ensure_hf_model", "load_engine", "resolve_model_path", "smollm2_gguf"]

_cache: dict[tuple[str, str], LLM] = {}
_cache_lock = threading.Lock()


def available_engines() -> list[str]:
    """Engines whose Python package is importable here (not whether hardware suits)."""
    found = [name for name, mod in (("llama_cpp", "llama_cpp"), ("transformers", "transformers"),
                                    ("vllm", "vllm")) if importlib.util.find_spec(mod)]
    return found


def choose_engine(engine: str, path: Path) -> str:
    if engine not in ENGINES:
        raise UserError(f"unknown embedded engine {engine!r}; choose one of {', '.join(ENGINES)} "
                        "(providers.embedded_engine)")
    if engine != "auto":
        return engine
    # llama.cpp runs GGUF files only; an HF dir goes to transformers
    if path.suffix == ".gguf" and importlib.util.find_spec("llama_cpp"):
        return "llama_cpp"
    return "transformers"


def _model_name(path: Path) -> str:
    return "smollm2" if is_default_model(path) else path.stem if path.is_file() else path.name


def load_engine(engine: str, settings: Settings, path: Path) -> LLM:
    """Build one engine instance (uncached); `engine` is concrete, not "auto"."""
    threads = settings.providers.embedded_threads
    name = _model_name(path)
    if engine == "llama_cpp":
        from nanoresearch.llm.engines.llama_cpp_engine import LlamaCppLLM
        if path.is_dir():
            raise UserError(f"llama.cpp needs a GGUF file, {path} is an HF dir; set "
                            "providers.embedded_engine=transformers")
        return LlamaCppLLM(path, model_name=name, threads=threads)
    hf_dir = path if path.is_dir() else ensure_hf_model(settings, str(path))
    if engine == "transformers":
        from nanoresearch.llm.engines.transformers_engine import TransformersLLM
        return TransformersLLM(hf_dir, model_name=name, threads=threads)
    from nanoresearch.llm.engines.vllm_engine import VLLMEngineLLM
    return VLLMEngineLLM(hf_dir, model_name=name)


def embedded_llm(settings: Settings, model: str = "smollm2", engine: str | None = None) -> LLM:
    """The shared engine for `embedded:<model>` (cached per process)."""
    path = resolve_model_path(settings, model)
    concrete = choose_engine(engine or settings.providers.embedded_engine, path)
    key = (concrete, str(path))
    with _cache_lock:  # loading under the lock: two agents must not load twice
        llm = _cache.get(key)
        if llm is None:
            llm = _cache[key] = load_engine(concrete, settings, path)
        return llm


def clear_engine_cache() -> None:
    with _cache_lock:
        _cache.clear()
