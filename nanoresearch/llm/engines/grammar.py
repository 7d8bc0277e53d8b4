"""Grammar-constrained JSON decoding for the transformers engines (XGrammar).

XGrammar (what vLLM, SGLang and TensorRT-LLM use) compiles a JSON Schema once per
tokenizer into a pushdown automaton and, at every decoding step, yields a bitmask of the
tokens that keep the output inside the schema. Applied as a logits processor it runs
inside ONE `generate()` with the KV cache, for the full schema: nested objects, arrays of
objects, enums, bounds, optional fields, `$ref`. peft models generate through the same
processor, so a user's LoRA adapter stays active.

A token budget cannot be a grammar rule, so the processor adds one rule of its own: near
the end of the budget it simulates, on a fork of the matcher, how many tokens closing
the value needs; when that is about what is left, the row enters closing mode (tokens that close a string, an array or an object where the grammar
allows one, forced keys in the fewest tokens), so a long-winded small model still ends
with a complete JSON value instead of being cut off mid-string.

A schema XGrammar cannot compile raises `SchemaNotCompilable` naming the schema; nothing
falls back to unconstrained text silently.
"""
from __future__ import annotations

import json
import logging
import threading
from typing import Any

from transformers import LogitsProcessor

from nanoresearch.errors import ModelError

log = logging.getLogger(__name__)


class SchemaNotCompilable(ModelError):
    """The JSON schema of a structured call cannot be turned into a grammar."""


def _schema_name(schema: dict[str, Any]) -> str:
    return str(schema.get("title") or "/".join(list(schema.get("properties", {}))[:4]) or "schema")


def _closer_tier(token: bytes) -> int:
    """2: closes a string (`"`, `"]`, `"}`); 1: closes an array/object (`]`, `}}`); 0: other.
    Only tokens made of closing characters count: `", "` opens the next item."""
    t = token.strip()
    if not t or any(c not in b'"]}' for c in t):
        return 0
    return 2 if b'"' in t else 1


class JsonGrammar:
    """One compiler per tokenizer; compiled schemas are cached by their JSON text."""

    def __init__(self, tokenizer: Any, vocab_size: int, stop_token_ids: list[int] | None = None):
        import torch
        import xgrammar as xgr

        self._xgr, self._torch = xgr, torch
        # the stop tokens must be the ones generate() stops on, or a finished JSON value
        # would be followed by stop tokens generate() does not recognise
        self.info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size,
                                                       stop_token_ids=stop_token_ids)
        self.compiler = xgr.GrammarCompiler(self.info, max_threads=1, cache_enabled=True)
        self.vocab_size = vocab_size
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}
        tiers = [_closer_tier(t if isinstance(t, bytes) else str(t).encode())
                 for t in self.info.decoded_vocab]
        tiers = torch.tensor((tiers + [0] * vocab_size)[:vocab_size])
        self.closers = (tiers == 2, tiers == 1)  # preferred first
        lengths = [len(t) if isinstance(t, bytes) else len(str(t)) for t in self.info.decoded_vocab]
        self.lengths = torch.tensor((lengths + [0] * vocab_size)[:vocab_size])
        self.stop_ids = list(self.info.stop_token_ids)
        self._bits = torch.arange(32, dtype=torch.int32)

    def compile(self, schema: dict[str, Any]):
        key = json.dumps(schema)  # not sorted: property order is the order the model writes
        with self._lock:
            if key not in self._cache:
                try:
                    self._cache[key] = self.compiler.compile_json_schema(
                        key, any_whitespace=False, strict_mode=True)
                except Exception as e:  # xgrammar raises RuntimeError/ValueError subclasses
                    raise SchemaNotCompilable(
                        f"the JSON schema {_schema_name(schema)!r} cannot be compiled to a grammar "
                        f"by XGrammar ({type(e).__name__}: {str(e)[:300]}); simplify the schema "
                        "(e.g. drop unsupported keywords) or call without a schema") from e
            return self._cache[key]

    def processor(self, schema: dict[str, Any], max_tokens: int):
        """A fresh logits processor for one generate() call (matchers are stateful)."""
        return GrammarLogitsProcessor(self, self.compile(schema), max_tokens)

    def allowed(self, bitmask, row: int = 0):
        """The packed int32 bitmask of one row as a bool vector over the vocabulary."""
        bits = (bitmask[row, :, None] >> self._bits) & 1
        return bits.flatten()[:self.vocab_size].bool()

    def closing_pick(self, allowed):
        """The token closing mode emits: a string closer, else an array/object closer,
        else the longest allowed token (forced keys in few tokens)."""
        torch = self._torch
        for closer in (*self.closers, allowed):
            cand = allowed & closer
            if cand.any():
                return int(torch.where(cand, self.lengths, -1).argmax())
        raise ModelError("the grammar allows no token; the schema has no valid completion")

    def closing_cost(self, matcher, limit: int) -> int:
        """Tokens needed to end the JSON value from the matcher's state, by simulating
        closing mode on a fork (capped at `limit`)."""
        sim, mask = matcher.fork(), self._xgr.allocate_token_bitmask(1, self.vocab_size)
        for n in range(limit):
            sim.fill_next_token_bitmask(mask, 0)
            allowed = self.allowed(mask)
            if any(bool(allowed[i]) for i in self.stop_ids if i < self.vocab_size):
                return n
            sim.accept_token(self.closing_pick(allowed))
        return limit


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks every token the grammar forbids, row by row of the batch, and switches a
    row to closing mode when the tokens left are about what closing it needs."""

    WINDOW = 64  # closing costs are simulated only this near the end of the budget
    EVERY = 4
    MARGIN = 4

    def __init__(self, grammar: JsonGrammar, compiled: Any, max_tokens: int):
        self.g, self.compiled, self.max_tokens = grammar, compiled, max_tokens
        self.matchers: list[Any] = []
        self.closing: list[bool] = []
        self.bitmask = None
        self.step = 0

    def _advance(self, input_ids) -> None:
        xgr = self.g._xgr
        if not self.matchers:
            self.matchers = [xgr.GrammarMatcher(self.compiled) for _ in range(input_ids.shape[0])]
            self.closing = [False] * len(self.matchers)
            self.bitmask = xgr.allocate_token_bitmask(len(self.matchers), self.g.vocab_size)
            return
        for i, m in enumerate(self.matchers):
            if not m.is_terminated() and not m.accept_token(int(input_ids[i, -1])):
                raise ModelError(f"token {int(input_ids[i, -1])} left the grammar; the "
                                 "processor must see every generated token")

    def __call__(self, input_ids, scores):
        self._advance(input_ids)
        left = self.max_tokens - self.step
        for i, m in enumerate(self.matchers):
            if m.is_terminated():
                continue
            # the simulation costs a mask per simulated token: run it every EVERY steps
            # near the end, with a margin for what EVERY steps can open
            if not self.closing[i] and left <= self.WINDOW and self.step % self.EVERY == 0:
                self.closing[i] = self.g.closing_cost(m, left) + self.MARGIN + self.EVERY >= left
            m.fill_next_token_bitmask(self.bitmask, i)
        work = scores if scores.device.type == "cpu" and scores.dtype == self.g._torch.float32 \
            else scores.float().cpu()
        self.g._xgr.apply_token_bitmask_inplace(work, self.bitmask, vocab_size=self.g.vocab_size)
        work[:, self.g.vocab_size:] = float("-inf")  # padding rows of the embedding
        for i, closing in enumerate(self.closing):
            if closing and not self.matchers[i].is_terminated():
                self._close(work, i)
        self.step += 1
        return work if work is scores else work.to(scores.dtype).to(scores.device)

    def _close(self, work, row: int) -> None:
        """Closing mode emits exactly what `closing_cost` simulated: a token that closes a
        string where the grammar allows one, else one that closes an array or object,
        else the longest allowed token (a forced key in few tokens). Strings end,
        optional keys and items are skipped, and the value ends within budget."""
        tok = self.g.closing_pick(work[row, :self.g.vocab_size] > float("-inf"))
        keep = work[row, tok].clone()
        work[row] = float("-inf")
        work[row, tok] = keep
