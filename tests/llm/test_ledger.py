"""Ledger: costs from the price table, hard caps checked before the call, JSONL reload."""
from __future__ import annotations

import threading

import pytest

from nanoresearch.config import Budgets
from nanoresearch.errors import BudgetExceeded
from nanoresearch.llm.ledger import Ledger, MeteredLLM
from nanoresearch.llm.scripted import FunctionModel, ScriptedModel
from nanoresearch.types import Completion, LedgerEntry, Usage

PRICES = {"scripted:scripted": (2.0, 8.0), "gpt-x": (1.0, 1.0)}
MSG = [{"role": "user", "content": "one two three"}]  # 3 prompt tokens in ScriptedModel


def test_cost_uses_price_per_million_tokens():
    led = Ledger(PRICES)
    assert led.cost("scripted", "scripted", 1_000_000, 500_000) == pytest.approx(2.0 + 4.0)
    assert led.cost("openai", "gpt-x", 250_000, 250_000) == pytest.approx(0.5)  # bare name
    assert led.cost("embedded", "smollm2", 10**6, 10**6) == 0.0  # unknown: free


def test_metered_llm_records_each_call_with_agent_and_latency():
    led = Ledger(PRICES)
    llm = MeteredLLM(ScriptedModel(["a b", "c d e f"]), led, agent="ideation")
    llm.generate(MSG)
    llm.generate(MSG)
    s = led.summary()
    assert s["calls"] == 2 and s["prompt_tokens"] == 6 and s["completion_tokens"] == 6
    assert s["cost_usd"] == pytest.approx((6 * 2.0 + 6 * 8.0) / 1e6)
    assert s["per_agent"]["ideation"]["calls"] == 2
    assert llm.name == "scripted:scripted"


def test_token_cap_stops_before_the_call():
    led = Ledger(PRICES, Budgets(max_tokens=8))
    inner = ScriptedModel(["w " * 6, "never"])
    llm = MeteredLLM(inner, led, agent="coding")
    llm.generate(MSG)  # 3 + 6 = 9 tokens >= cap of 8
    with pytest.raises(BudgetExceeded) as ei:
        llm.generate(MSG)
    assert ei.value.what == "max_tokens" and ei.value.used == 9
    assert len(inner.calls) == 1  # the second call never reached the model
    assert "budgets.max_tokens" in str(ei.value)


def test_cost_cap_stops_before_the_call_and_pickles():
    import pickle

    led = Ledger({"function:big": (1e6, 0.0)}, Budgets(max_cost_usd=2.5))
    inner = FunctionModel(lambda m: "x", model="big")
    llm = MeteredLLM(inner, led)
    llm.generate(MSG)  # 3 prompt tokens at $1 each
    with pytest.raises(BudgetExceeded) as ei:
        llm.generate(MSG)
    assert ei.value.what == "max_cost_usd" and len(inner.calls) == 1
    again = pickle.loads(pickle.dumps(ei.value))
    assert (again.what, again.used, again.limit) == ("max_cost_usd", 3.0, 2.5)


def test_reload_from_jsonl_keeps_totals_and_caps(tmp_path):
    path = tmp_path / "proj" / "ledger.jsonl"
    led = Ledger(PRICES, Budgets(max_tokens=100), path)
    llm = MeteredLLM(ScriptedModel(["a b c"], cycle_last=True), led, agent="writing")
    for _ in range(4):
        llm.generate(MSG)
    assert len(path.read_text().splitlines()) == 4
    resumed = Ledger(PRICES, Budgets(max_tokens=24), path)
    assert resumed.summary()["tokens"] == 24 and resumed.summary()["calls"] == 4
    with pytest.raises(BudgetExceeded):
        resumed.check()
    assert [e.agent for e in resumed.entries()] == ["writing"] * 4


def test_two_ledgers_on_one_file_see_each_other(tmp_path):
    path = tmp_path / "ledger.jsonl"
    a, b = Ledger(PRICES, path=path), Ledger(PRICES, path=path)
    comp = Completion(text="x", usage=Usage(prompt_tokens=5, completion_tokens=5))
    a.record(agent="a", provider="p", model="m", completion=comp)
    b.record(agent="b", provider="p", model="m", completion=comp)
    assert a.summary()["tokens"] == 20 and b.summary()["tokens"] == 20


def test_torn_and_bad_lines_are_skipped(tmp_path):
    path = tmp_path / "ledger.jsonl"
    good = LedgerEntry(agent="x", prompt_tokens=2, completion_tokens=3).model_dump_json()
    path.write_text(good + "\n" + "{not json}\n" + good[:20])  # last line mid-write
    led = Ledger(path=path)
    assert led.summary()["tokens"] == 5
    with open(path, "a") as f:  # the writer finishes its line
        f.write(good[20:] + "\n")
    # the torn line was left unread, so once complete it counts exactly once
    assert led.summary()["tokens"] == 10 and led.summary()["calls"] == 2
    assert Ledger(path=path).summary()["calls"] == 2


def test_concurrent_records_are_all_counted(tmp_path):
    led = Ledger(PRICES, path=tmp_path / "l.jsonl")
    llm = MeteredLLM(FunctionModel(lambda m: "ok"), led, agent="t")

    def work():
        for _ in range(25):
            llm.generate(MSG)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert led.summary()["calls"] == 200
    assert len((tmp_path / "l.jsonl").read_text().splitlines()) == 200
    assert Ledger(PRICES, path=tmp_path / "l.jsonl").summary()["tokens"] == 200 * 4


def test_generate_batch_is_metered_per_completion():
    led = Ledger(PRICES)
    llm = MeteredLLM(ScriptedModel(["a", "b", "c"]), led, agent="judge")
    out = llm.generate_batch([MSG, MSG, MSG])
    assert [c.text for c in out] == ["a", "b", "c"] and led.summary()["calls"] == 3


def test_zero_cost_cap_allows_free_models_only():
    free = MeteredLLM(FunctionModel(lambda m: "x"), Ledger(PRICES, Budgets(max_cost_usd=0)))
    for _ in range(3):
        free.generate(MSG)  # local engines cost nothing
    paid_ledger = Ledger(PRICES, Budgets(max_cost_usd=0))
    paid = MeteredLLM(ScriptedModel(["x", "y"]), paid_ledger)
    paid.generate(MSG)
    with pytest.raises(BudgetExceeded, match="max_cost_usd"):
        paid.generate(MSG)
