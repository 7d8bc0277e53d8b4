"""transformers engine: the planner's engine and the LoRA base (peft adapters load on it).

Greedy by default (temperature 0), the tokenizer's chat template, real token counts.
`generate_batch` left-pads so one forward pass serves many prompts. With a schema, the
reply is decoded under the schema's grammar (`grammar.py`, XGrammar) in the same single
generate() call: any JSON Schema, nested or not, and the reply parses unless the token
budget ran out (finish_reason "length"). `llm/structured.py` still validates.
"""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from nanoresearch.errors import ModelError
from nanoresearch.llm.base import LLM, Messages, to_messages
from nanoresearch.types import Completion, Usage

if TYPE_CHECKING:
    from nanoresearch.llm.engines.grammar import JsonGrammar

log = logging.getLogger(__name__)


class TransformersLLM(LLM):
    provider = "embedded"

    def __init__(self, model_dir: str | Path, *, model_name: str = "smollm2", threads: int = 2,
                 max_context: int = 4096):
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
        self._grammar = None  # compiled on the first structured call
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

    def grammar(self) -> "JsonGrammar":
        if self._grammar is None:
            from nanoresearch.llm.engines.grammar import JsonGrammar  # imports transformers
            self._grammar = JsonGrammar(self.tokenizer, self.hf_model.config.vocab_size,
                                        sorted(i for i in self._eos_ids if i is not None))
        return self._grammar

    def generate_batch(self, batch: Sequence[Messages], *, schema: dict[str, Any] | None = None,
                       max_tokens: int = 512, temperature: float = 0.0,
                       stop: list[str] | None = None) -> list[Completion]:
        proc = self.grammar().processor(schema, max_tokens) if schema else None
        t0 = time.perf_counter()
        # stop strings could cut a JSON value short: under a grammar the grammar ends it
        rows = self._run([self._prompt(m) for m in batch], max_tokens, temperature,
                         None if proc else stop, proc)
        latency = time.perf_counter() - t0
        # under a grammar the stop token is allowed only after a complete value, so
        # finish_reason "stop" also means the JSON is whole
        return [Completion(text=text, model=self.model, finish_reason=finish,
                           latency_s=latency, usage=Usage(prompt_tokens=p, completion_tokens=n))
                for text, n, p, finish in rows]

    def _run(self, prompts: list[str], max_tokens: int, temperature: float,
             stop: list[str] | None, processor=None) -> list[tuple[str, int, int, str]]:
        """Generate for left-padded prompts: (text, generated tokens, prompt tokens, finish)."""
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        width = enc["input_ids"].shape[1]
        if width + max_tokens > self.max_context:
            raise ModelError(f"prompt of {width} tokens + max_tokens {max_tokens} exceeds the "
                             f"embedded model's context of {self.max_context}; shorten the input")
        with self._lock, self._torch.inference_mode():
            kw = self._gen_kwargs(max_tokens, temperature, stop)
            if processor is not None:
                from transformers import LogitsProcessorList
                kw["logits_processor"] = LogitsProcessorList([processor])
            out = self.hf_model.generate(**enc, **kw)
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
