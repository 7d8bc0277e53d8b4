"""llama.cpp engine (llama-cpp-python): the fast CPU default for the agents' long
generations. With a schema it decodes under a JSON-schema grammar, so the output always
parses; grammars do not enforce every constraint (numeric bounds), so callers still
validate (`llm/structured.py`).
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from nanoresearch.errors import ModelError
from nanoresearch.llm.base import LLM, Messages, to_messages
from nanoresearch.types import Completion, Usage

log = logging.getLogger(__name__)


def import_llama_cpp():
    try:
        import llama_cpp
    except ImportError as e:
        raise ImportError("the llama.cpp engine needs llama-cpp-python: "
                          "pip install 'nanoresearch[llama]' (compiles ~10 min on 2 cores; "
                          "CMAKE_ARGS=\"-DLLAVA_BUILD=OFF\"), or set "
                          "providers.embedded_engine=transformers") from e
    return llama_cpp


_params_lock = threading.Lock()


def _load_without_extra_buffers(llama_cpp, **kwargs):
    """Load with plain CPU weight buffers: on CPUs with AMX, llama-cpp-python 0.3.36's
    repacked "extra" buffers segfault in ggml_backend_amx_mul_mat on the first decode
    (measured on this project's machine); Llama() does not expose use_extra_bufts, so the
    default model params it reads are wrapped for the duration of the load."""
    low = llama_cpp.llama_cpp
    with _params_lock:
        orig = low.llama_model_default_params

        def params():
            p = orig()
            if hasattr(p, "use_extra_bufts"):
                p.use_extra_bufts = False
            return p

        low.llama_model_default_params = params
        try:
            return llama_cpp.Llama(**kwargs)
        finally:
            low.llama_model_default_params = orig


class LlamaCppLLM(LLM):
    provider = "embedded"

    def __init__(self, gguf_path: str | Path, *, model_name: str = "smollm2", threads: int = 2,
                 n_ctx: int = 4096, seed: int = 0):
        llama_cpp = import_llama_cpp()
        path = Path(gguf_path)
        if path.suffix != ".gguf":
            raise ModelError(f"the llama.cpp engine needs a .gguf file, got {path}; use "
                             "providers.embedded_engine=transformers for an HF model dir")
        self.model, self.path, self.engine = model_name, path, "llama_cpp"
        # n_threads_batch too: left unset, llama-cpp-python gives prompt processing every
        # CPU of the machine, so two engines "on one thread each" spin four threads on two
        # cores (measured here: a 504-token prompt took 8 s per engine side by side vs
        # 2.9 s alone; with both set to 1, 6 s side by side)
        t0 = time.perf_counter()
        self.llama = _load_without_extra_buffers(llama_cpp, model_path=str(path), chat_format="chatml",
                                                 n_ctx=n_ctx, n_threads=threads,
                                                 n_threads_batch=threads, seed=seed, verbose=False)
        self.load_s = time.perf_counter() - t0
        self._lock = threading.Lock()  # a Llama context is not thread-safe
        log.info("llama.cpp engine loaded %s in %.2fs", path.name, self.load_s)

    def generate(self, messages: Messages, *, schema: dict[str, Any] | None = None,
                 max_tokens: int = 512, temperature: float = 0.0,
                 stop: list[str] | None = None) -> Completion:
        msgs = [m.model_dump() for m in to_messages(messages)]
        kwargs: dict[str, Any] = {"messages": msgs, "max_tokens": max_tokens,
                                  "temperature": temperature, "stop": stop or []}
        if schema:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        t0 = time.perf_counter()
        try:
            with self._lock:
                resp = self.llama.create_chat_completion(**kwargs)
        except ValueError as e:  # llama.cpp reports context overflow as ValueError
            raise ModelError(f"llama.cpp could not generate: {e}; shorten the input") from None
        choice = resp["choices"][0]
        u = resp.get("usage") or {}
        return Completion(text=choice["message"].get("content") or "", model=self.model,
                          finish_reason=choice.get("finish_reason") or "stop",
                          latency_s=time.perf_counter() - t0,
                          usage=Usage(prompt_tokens=int(u.get("prompt_tokens", 0)),
                                      completion_tokens=int(u.get("completion_tokens", 0))))
