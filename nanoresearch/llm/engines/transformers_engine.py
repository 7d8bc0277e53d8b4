"""transformers engine: the planner's engine and the LoRA base (peft adapters load on it).

Greedy by default (temperature 0), the tokenizer's chat template, real token counts.
`generate_batch` left-pads so one forward pass serves many prompts. With a schema of a
flat object the engine writes keys and punctuation and the model only the values
(`json_guide.py`, a cheap stand-in for grammar decoding); other schemas prime the reply
with "{". `llm/structured.py` validates and re-asks either way.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from nanoresearch.errors import ModelError
from nanoresearch.llm.base import LLM, Messages, to_messages
from nanoresearch.llm.engines.json_guide import guidable, guided_json
from nanoresearch.types import Completion, Usage

log = logging.getLogger(__name__)


def _prefix_for(schema: dict[str, Any] | None) -> str:
    return "{" if schema and schema.get("type", "object") == "object" else ""


class TransformersLLM(LLM):
    provider = "embedded"

    def __init__(self, model_dir: str | Path, *, model_name: str = "smollm2", threads: int = 2,
                 max_context: int = 4096):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a model hub
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model, self.model_dir, self.max_context = model_name, Path(model_dir), max_context
        self.engine = "transformers"
        t0 = time.perf_counter()
        # process-wide, but this engine is the process's main torch user
        torch.set_num_threads(threads)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.hf_model = AutoModelForCausalLM.from_pretrained(self.model_dir, dtype=torch.float32)
        self.hf_model.eval()
        self._torch = torch
        self._lock = threading.Lock()  # one generate at a time per engine instance
        eos = self.hf_model.generation_config.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        self.load_s = time.perf_counter() - t0
        log.info("transformers engine loaded %s in %.1fs", self.model_dir, self.load_s)

    def _prompt(self, messages: Messages) -> str:
        msgs = [m.model_dump() for m in to_messages(messages)]
        return self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)

    def _gen_kwargs(self, max_tokens: int, temperature: float, stop: list[str] | None) -> dict:
        kw: dict[str, Any] = {"max_new_tokens": max_tokens,
                              "pad_token_id": self.tokenizer.pad_token_id}
        if temperature > 0:
            kw.update(do_sample=True, temperature=temperature)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if stop:
            kw.update(stop_strings=stop, tokenizer=self.tokenizer)
        return kw

    def generate(self, messages: Messages, *, schema: dict[str, Any] | None = None,
                 max_tokens: int = 512, temperature: float = 0.0,
                 stop: list[str] | None = None) -> Completion:
        return self.generate_batch([messages], schema=schema, max_tokens=max_tokens,
                                   temperature=temperature, stop=stop)[0]

    def generate_batch(self, batch: Sequence[Messages], *, schema: dict[str, Any] | None = None,
                       max_tokens: int = 512, temperature: float = 0.0,
                       stop: list[str] | None = None) -> list[Completion]:
        if guidable(schema):
            return [self._guided(m, schema, max_tokens, temperature) for m in batch]
        prefix = _prefix_for(schema)
        t0 = time.perf_counter()
        rows = self._run([self._prompt(m) + prefix for m in batch], max_tokens, temperature, stop)
        latency = time.perf_counter() - t0
        return [Completion(text=prefix + text, model=self.model, finish_reason=finish,
                           latency_s=latency, usage=Usage(prompt_tokens=p, completion_tokens=n))
                for text, n, p, finish in rows]

    def _guided(self, messages: Messages, schema: dict[str, Any], max_tokens: int,
                temperature: float) -> Completion:
        prompt = self._prompt(messages)

        def complete(prefix: str, stop: list[str], n: int) -> tuple[str, int]:
            text, used, _, _ = self._run([prompt + prefix], n, temperature, stop)[0]
            return text, used

        t0 = time.perf_counter()
        text, used = guided_json(schema, complete, max_tokens)
        n_prompt = len(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        return Completion(text=text, model=self.model, latency_s=time.perf_counter() - t0,
                          usage=Usage(prompt_tokens=n_prompt, completion_tokens=used))

    def _run(self, prompts: list[str], max_tokens: int, temperature: float,
             stop: list[str] | None) -> list[tuple[str, int, int, str]]:
        """Generate for left-padded prompts: (text, generated tokens, prompt tokens, finish)."""
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        width = enc["input_ids"].shape[1]
        if width + max_tokens > self.max_context:
            raise ModelError(f"prompt of {width} tokens + max_tokens {max_tokens} exceeds the "
                             f"embedded model's context of {self.max_context}; shorten the input")
        with self._lock, self._torch.inference_mode():
            out = self.hf_model.generate(**enc, **self._gen_kwargs(max_tokens, temperature, stop))
        return [self._decode(out[i, width:].tolist(), int(enc["attention_mask"][i].sum()),
                             max_tokens, stop) for i in range(len(prompts))]

    def _decode(self, ids: list[int], n_prompt: int, max_tokens: int,
                stop: list[str] | None) -> tuple[str, int, int, str]:
        n = next((i + 1 for i, t in enumerate(ids) if t in self._eos_ids), len(ids))
        text = self.tokenizer.decode(ids[:n], skip_special_tokens=True)
        finish = "stop" if n < len(ids) or n < max_tokens else "length"
        for s in stop or []:
            if s in text:
                text, finish = text[: text.index(s)], "stop"
        return text, n, n_prompt, finish
