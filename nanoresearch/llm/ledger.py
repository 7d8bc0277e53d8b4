"""Token and cost ledger with hard caps.

Every call through `MeteredLLM` is checked against the caps *before* it is made (so a
project stops cleanly, state saved, instead of overspending) and recorded after. With a
`path`, the JSONL file is the source of truth: entries are appended (one write + flush
per line) and totals are re-read from it, so several processes (Ray actors) sharing one
project ledger see each other's spending, and a resumed project keeps its totals.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from nanoresearch.config import Budgets
from nanoresearch.errors import BudgetExceeded
from nanoresearch.llm.base import LLM, Messages
from nanoresearch.types import Completion, LedgerEntry

log = logging.getLogger(__name__)


@dataclass
class Totals:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    per_agent: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, e: LedgerEntry) -> None:
        self.calls += 1
        self.prompt_tokens += e.prompt_tokens
        self.completion_tokens += e.completion_tokens
        self.cost_usd += e.cost_usd
        a = self.per_agent.setdefault(e.agent or "-", {"calls": 0, "tokens": 0, "cost_usd": 0.0})
        a["calls"] += 1
        a["tokens"] += e.prompt_tokens + e.completion_tokens
        a["cost_usd"] += e.cost_usd


class Ledger:
    """`prices`: USD per 1M tokens, `{"openai:gpt-4o-mini": (in, out)}`; a bare model name
    also matches; unknown models cost 0 (local engines)."""

    def __init__(self, prices: dict[str, Sequence[float]] | None = None,
                 budgets: Budgets | None = None, path: str | Path | None = None):
        self.prices = {k: (float(v[0]), float(v[1])) for k, v in (prices or {}).items()}
        self.budgets = budgets or Budgets()
        self.path = Path(path) if path else None
        self.totals = Totals()
        self._offset = 0  # bytes of the JSONL already folded into totals
        self._lock = threading.Lock()
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._sync()

    # ------------------------------------------------------------------ pricing
    def price(self, provider: str, model: str) -> tuple[float, float]:
        return self.prices.get(f"{provider}:{model}") or self.prices.get(model) or (0.0, 0.0)

    def cost(self, provider: str, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        p_in, p_out = self.price(provider, model)
        return (prompt_tokens * p_in + completion_tokens * p_out) / 1_000_000

    # ------------------------------------------------------------------ caps
    def check(self) -> None:
        """Raise BudgetExceeded if a hard cap is already reached (call before each call)."""
        with self._lock:
            self._sync()
            t = self.totals
            if t.tokens >= self.budgets.max_tokens:
                raise BudgetExceeded("max_tokens", t.tokens, self.budgets.max_tokens)
            cap = self.budgets.max_cost_usd
            # a cap of 0 means "no paid calls": free (local) models still run
            if (t.cost_usd > 0) if cap == 0 else (t.cost_usd >= cap):
                raise BudgetExceeded("max_cost_usd", round(t.cost_usd, 6), cap)

    # ------------------------------------------------------------------ recording
    def record(self, *, agent: str, provider: str, model: str, completion: Completion,
               latency_s: float | None = None) -> LedgerEntry:
        u = completion.usage
        entry = LedgerEntry(agent=agent, provider=provider, model=model,
                            prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens,
                            cost_usd=self.cost(provider, model, u.prompt_tokens, u.completion_tokens),
                            latency_s=completion.latency_s if latency_s is None else latency_s)
        with self._lock:
            if self.path is None:
                self.totals.add(entry)
            else:
                self._append(entry)
                self._sync()
        return entry

    def _append(self, entry: LedgerEntry) -> None:
        # one write() of one line in O_APPEND mode: concurrent writers do not interleave
        line = (entry.model_dump_json() + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def _sync(self) -> None:
        """Fold complete lines appended since the last read into the totals."""
        if self.path is None or not self.path.exists():
            return
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a torn last line (writer mid-flight) waits
        for raw in data[:end].splitlines():
            if not raw.strip():
                continue
            try:
                self.totals.add(LedgerEntry.model_validate_json(raw))
            except ValueError as e:
                log.warning("ledger %s: skipping unreadable line (%s)", self.path, e)
        self._offset += end

    def entries(self) -> list[LedgerEntry]:
        if self.path is None or not self.path.exists():
            return []
        out = []
        for raw in self.path.read_bytes().splitlines():
            try:
                out.append(LedgerEntry.model_validate_json(raw))
            except ValueError:
                continue
        return out

    def summary(self) -> dict[str, Any]:
        with self._lock:
            self._sync()
            t = self.totals
            return {"calls": t.calls, "prompt_tokens": t.prompt_tokens,
                    "completion_tokens": t.completion_tokens, "tokens": t.tokens,
                    "cost_usd": round(t.cost_usd, 6), "per_agent": dict(t.per_agent),
                    "max_tokens": self.budgets.max_tokens,
                    "max_cost_usd": self.budgets.max_cost_usd}


class MeteredLLM(LLM):
    """Wraps any LLM: caps checked before each call, usage recorded after."""

    def __init__(self, llm: LLM, ledger: Ledger, agent: str = ""):
        self.inner, self.ledger, self.agent = llm, ledger, agent
        self.provider, self.model = llm.provider, llm.model

    def generate(self, messages: Messages, *, schema: dict[str, Any] | None = None,
                 max_tokens: int = 512, temperature: float = 0.0,
                 stop: list[str] | None = None) -> Completion:
        self.ledger.check()
        t0 = time.perf_counter()
        comp = self.inner.generate(messages, schema=schema, max_tokens=max_tokens,
                                   temperature=temperature, stop=stop)
        self.ledger.record(agent=self.agent, provider=self.provider, model=self.model,
                           completion=comp, latency_s=time.perf_counter() - t0)
        return comp

    def generate_batch(self, batch: Sequence[Messages], **kw: Any) -> list[Completion]:
        self.ledger.check()
        t0 = time.perf_counter()
        comps = self.inner.generate_batch(batch, **kw)
        per_call = (time.perf_counter() - t0) / max(1, len(comps))
        for c in comps:
            self.ledger.record(agent=self.agent, provider=self.provider, model=self.model,
                               completion=c, latency_s=per_call)
        return comps
