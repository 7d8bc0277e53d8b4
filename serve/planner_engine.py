"""The planner engine: one base model (transformers) with per-user LoRA adapters.

Each user's served adapter is loaded into one peft model as a named adapter
(`u<hash>v<version>`); a request activates its user's adapter (or disables adapters
for a user without one) under one lock, because a CPU replica runs one generation at a
time anyway and peft's active adapter is model-wide state.

Hot swap: a new version is read and checksum-verified from disk outside the lock, then
inserted beside the old one and the user's pointer switched in one step under the lock;
the old adapter is deleted afterwards. A request in flight finishes on the old version,
the next one gets the new one, and none fails. With `auto_refresh` every request first
compares the registry's `current` pointer with what is loaded, so "the next request
after publish uses the new version" holds without an admin call.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from nanoresearch.types import ChatMessage
from storage.adapters import AdapterIntegrityError, AdapterRegistry

log = logging.getLogger(__name__)


@dataclass
class GenerationResult:
    text: str
    user_id: str | None
    adapter_version: str | None  # "v3", or None for the base model
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    call_id: str | None = None
    finish_reason: str = "stop"


def adapter_name(user_id: str, version: int) -> str:
    """peft adapter names become module keys: no dots, so hash the user id."""
    return f"u{hashlib.sha1(user_id.encode()).hexdigest()[:12]}v{version}"


def version_label(version: int | None) -> str | None:
    return None if version is None else f"v{version}"


class PlannerEngine:
    def __init__(self, base_model_dir: str | Path, adapters: AdapterRegistry, planner_log=None, *,
                 model=None, tokenizer=None, device: str = "cpu", auto_refresh: bool = True):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.base_model_dir = Path(base_model_dir)
        self.adapters = adapters
        self.planner_log = planner_log
        self.device = device
        self.auto_refresh = auto_refresh
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(self.base_model_dir))
        self.model = model or AutoModelForCausalLM.from_pretrained(str(self.base_model_dir))
        self.model.to(device).eval()
        self.peft = None  # created on the first adapter load
        self._active: dict[str, tuple[str, int]] = {}  # user -> (adapter name, version)
        self._lock = threading.RLock()
        self.model_name = self.base_model_dir.name
        self._grammar = None

    # ------------------------------------------------------------------ adapters
    def active_version(self, user_id: str) -> int | None:
        entry = self._active.get(user_id)
        return entry[1] if entry else None

    def loaded_adapters(self) -> dict[str, int]:
        return {u: v for u, (_, v) in self._active.items()}

    def _read_adapter(self, user_id: str, version: int):
        from peft import LoraConfig
        from safetensors.torch import load_file

        path = self.adapters.resolve(user_id, version)  # checks owner and checksum
        weights = path / "adapter_model.safetensors"
        if not weights.exists():
            from nanoresearch.errors import RunFailure
            raise RunFailure(f"{path} has no adapter_model.safetensors; republish the adapter")
        return LoraConfig.from_pretrained(str(path)), load_file(str(weights), device=self.device)

    def load_adapter(self, user_id: str, version: int) -> float:
        """Load `version` beside the user's current adapter, then switch. Returns seconds."""
        t0 = time.perf_counter()
        if self.active_version(user_id) == version:
            return 0.0
        config, weights = self._read_adapter(user_id, version)
        name = adapter_name(user_id, version)
        with self._lock:
            self._insert(name, config, weights)
            old = self._active.get(user_id)
            self._active[user_id] = (name, version)  # the switch: one dict assignment
            if old and old[0] != name:
                self.peft.set_adapter(name)  # deleting the active adapter would make peft warn
                self._delete(old[0])
        dt = time.perf_counter() - t0
        log.info("user %s now served by adapter v%d (swap %.3f s)", user_id, version, dt)
        return dt

    def _insert(self, name: str, config, weights) -> None:
        from peft import PeftModel, set_peft_model_state_dict

        config.inference_mode = True
        if self.peft is None:
            self.peft = PeftModel(self.model, config, adapter_name=name)
        elif name not in self.peft.peft_config:
            self.peft.add_adapter(name, config)
        set_peft_model_state_dict(self.peft, weights, adapter_name=name)
        self.peft.eval()

    def _delete(self, name: str) -> None:
        if self.peft is None or name not in self.peft.peft_config:
            return
        if len(self.peft.peft_config) == 1:
            self.model = self.peft.unload()  # last adapter: back to the bare base model
            self.peft = None
        else:
            self.peft.delete_adapter(name)

    def unload(self, user_id: str) -> None:
        """Serve the base model to this user again (until a refresh finds a version)."""
        with self._lock:
            old = self._active.pop(user_id, None)
            if old:
                self._delete(old[0])

    def refresh(self, user_id: str) -> int | None:
        """Match the loaded adapter to the registry's current pointer. A version that
        fails its integrity check is not loaded: the user keeps the version they had
        (the reply names it) and the error is logged for the operator."""
        want = self.adapters.current_version(user_id)
        if want is None:
            if self.active_version(user_id) is not None:
                self.unload(user_id)
        elif want != self.active_version(user_id):
            try:
                self.load_adapter(user_id, want)
            except AdapterIntegrityError as e:
                log.error("not serving adapter %s v%d: %s", user_id, want, e)
        return self.active_version(user_id)

    # ------------------------------------------------------------------ generation
    def _encode(self, messages: Sequence[dict | ChatMessage]) -> torch.Tensor:
        msgs = [m.model_dump() if isinstance(m, ChatMessage) else dict(m) for m in messages]
        ids = self.tokenizer.apply_chat_template(msgs, add_generation_prompt=True, tokenize=True,
                                                 return_dict=False)
        return torch.tensor([list(ids)], device=self.device)

    def _adapter_scope(self, user_id: str | None):
        """(module to generate with, served version) for the user; caller holds the lock."""
        entry = self._active.get(user_id) if user_id else None
        if entry is not None:
            self.peft.set_adapter(entry[0])
            return self.peft, entry[1], contextlib.nullcontext()
        if self.peft is not None:
            return self.peft, None, self.peft.disable_adapter()
        return self.model, None, contextlib.nullcontext()

    def _gen_kw(self, ids: torch.Tensor, max_tokens: int, processor=None) -> dict:
        kw = dict(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                  do_sample=False, pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id)
        if processor is not None:
            from transformers import LogitsProcessorList
            kw["logits_processor"] = LogitsProcessorList([processor])
        return kw

    def grammar(self):
        """The schema compiler for this tokenizer (XGrammar), built on the first
        structured request; LoRA adapters do not change the vocabulary."""
        if self._grammar is None:
            from nanoresearch.llm.engines.grammar import JsonGrammar
            eos = self.tokenizer.eos_token_id
            self._grammar = JsonGrammar(self.tokenizer, self.model.config.vocab_size,
                                        [eos] if eos is not None else None)
        return self._grammar

    def _generate_ids(self, ids: torch.Tensor, user_id: str | None, max_tokens: int,
                      processor=None) -> tuple[torch.Tensor, int | None]:
        """One generate() under the user's adapter; with a grammar processor the reply is
        decoded inside the schema in the same call (KV cache kept)."""
        with self._lock, torch.inference_mode():
            module, version, scope = self._adapter_scope(user_id)
            with scope:
                out = module.generate(**self._gen_kw(ids, max_tokens, processor))
                return out[0, ids.shape[1]:], version

    def generate(self, messages: Sequence[dict | ChatMessage], user_id: str | None = None,
                 max_tokens: int = 256, *, project_id: str = "", stage: str = "",
                 call_id: str | None = None, schema: dict | None = None) -> GenerationResult:
        """Greedy completion with the user's served adapter (base when none); logged. With
        a JSON `schema` the reply is decoded under its grammar (XGrammar) and parses
        unless the token budget ran out (finish_reason "length")."""
        t0 = time.perf_counter()
        if user_id and self.auto_refresh:
            self.refresh(user_id)
        proc = self.grammar().processor(schema, max_tokens) if schema else None
        ids = self._encode(messages)
        out, version = self._generate_ids(ids, user_id, max_tokens, proc)
        eos = self.tokenizer.eos_token_id
        # under a grammar the stop token is allowed only after a complete value, so
        # "stop" also means the JSON is whole
        finish = "stop" if eos is not None and eos in out.tolist() else "length"
        text = self.tokenizer.decode(out, skip_special_tokens=True).strip()
        n_out, n_prompt = int(out.shape[0]), int(ids.shape[1])
        res = GenerationResult(text=text, user_id=user_id, adapter_version=version_label(version),
                               prompt_tokens=n_prompt, completion_tokens=n_out,
                               latency_s=time.perf_counter() - t0, finish_reason=finish)
        if self.planner_log is not None and user_id:
            call = self.planner_log.log_call(user_id=user_id, messages=messages, output=text,
                                             adapter_version=res.adapter_version, project_id=project_id,
                                             stage=stage, call_id=call_id)
            res.call_id = call.call_id if call else None
        return res

    def logprob(self, messages: Sequence[dict | ChatMessage], continuation: str,
                user_id: str | None = None) -> float:
        """Sum of log-probabilities of `continuation` after the chat prompt, under the
        user's adapter: used by the learning test and the benchmarks."""
        if user_id and self.auto_refresh:
            self.refresh(user_id)
        ids = self._encode(messages)
        cont = self.tokenizer(continuation, add_special_tokens=False, return_tensors="pt")["input_ids"].to(self.device)
        full = torch.cat([ids, cont], dim=1)
        with self._lock, torch.inference_mode():
            entry = self._active.get(user_id) if user_id else None
            if entry is not None:
                self.peft.set_adapter(entry[0])
                logits = self.peft(input_ids=full).logits
            elif self.peft is not None:
                with self.peft.disable_adapter():
                    logits = self.peft(input_ids=full).logits
            else:
                logits = self.model(input_ids=full).logits
        logp = torch.log_softmax(logits[0, ids.shape[1] - 1:-1].float(), -1)
        return float(logp.gather(-1, cont[0].unsqueeze(-1)).sum())


def make_plan(engine: PlannerEngine, inp, user_id: str, project_id: str = "",
              max_tokens: int = 256):
    """PlannerInput -> (types.Plan, parse path) through the engine; the call is logged."""
    from serve.planner_prompt import build_messages, parse_plan, plan_schema

    res = engine.generate(build_messages(inp), user_id, max_tokens, project_id=project_id,
                          stage=inp.stage, schema=plan_schema(inp))
    plan, path = parse_plan(res.text, inp)
    plan = plan.model_copy(update={"user_id": user_id, "project_id": project_id,
                                   "adapter_version": res.adapter_version,
                                   **({"call_id": res.call_id} if res.call_id else {})})
    return plan, path
