"""Each LLM call written to the ledger becomes a typed `llm_call` event with tokens/s."""
from __future__ import annotations

import json
import time

from actors.progress import LedgerTail


def _entry(agent: str, tokens: int, secs: float) -> str:
    return json.dumps({"kind": "ledger_entry", "agent": agent, "provider": "embedded", "model": "smollm2",
                       "prompt_tokens": 100, "completion_tokens": tokens, "latency_s": secs}) + "\n"


def test_calls_written_after_start_become_events(tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(_entry("old", 1, 1.0))  # before start: not replayed
    got = []
    tail = LedgerTail(ledger, lambda k, d: got.append((k, d)), poll_s=0.05).start()
    with ledger.open("a") as f:
        f.write(_entry("writing", 120, 4.0))
        f.write('{"agent": "review", "completion_')  # still being written
    deadline = time.time() + 10
    while not got and time.time() < deadline:
        time.sleep(0.05)
    with ledger.open("a") as f:
        f.write('tokens": 10, "latency_s": 0}\n')
    tail.stop()
    assert [d["agent"] for _, d in got] == ["writing", "review"]
    kind, data = got[0]
    assert kind == "llm_call" and data["at"] > 0 and data["phase"] is None
    assert {k: data[k] for k in ("agent", "model", "prompt_tokens", "completion_tokens", "duration_s",
                                 "tokens_per_s")} == {"agent": "writing", "model": "embedded:smollm2",
                                                      "prompt_tokens": 100, "completion_tokens": 120,
                                                      "duration_s": 4.0, "tokens_per_s": 30.0}
    assert got[1][1]["tokens_per_s"] is None  # no time measured: no rate invented
