"""PlannerEngine on a tiny model: per-user adapters, base untouched, hot swap under
concurrent requests, call logging."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from serve.planner_engine import PlannerEngine
from serve.planner_log import PlannerLog
from storage.adapters import AdapterRegistry
from tests.serve.planner_fixtures import publish_random
from tests.training.tiny import make_tiny_model_dir

MSGS = [{"role": "system", "content": "You plan."}, {"role": "user", "content": "Task: classify digits"}]
CONT = "1. load the data\n2. train a baseline"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny-engine"))


@pytest.fixture()
def setup(model_dir, tmp_path):
    reg = AdapterRegistry(tmp_path / "adapters")
    eng = PlannerEngine(model_dir, reg, PlannerLog(tmp_path / "data"))
    return eng, reg


def _reference_logprob(model_dir, adapter_dir, tok_engine) -> float:
    """Log-prob computed by an independent model instance (no engine involved)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(str(model_dir))
    if adapter_dir is not None:
        m = PeftModel.from_pretrained(m, str(adapter_dir))
    m.eval()
    ids = tok_engine._encode(MSGS)
    cont = tok_engine.tokenizer(CONT, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = m(input_ids=torch.cat([ids, cont], 1)).logits
    lp = torch.log_softmax(logits[0, ids.shape[1] - 1:-1], -1)
    return float(lp.gather(-1, cont[0][:, None]).sum())


def test_each_user_gets_their_adapter_and_base_is_unchanged(setup, model_dir, tmp_path):
    eng, reg = setup
    base_before = eng.logprob(MSGS, CONT, "carol")
    base_text = eng.generate(MSGS, "carol", max_tokens=12).text
    publish_random(reg, model_dir, tmp_path, "alice", seed=1)
    publish_random(reg, model_dir, tmp_path, "bob", seed=2)
    ra, rb, rc = (eng.generate(MSGS, u, max_tokens=12) for u in ("alice", "bob", "carol"))
    assert (ra.adapter_version, rb.adapter_version, rc.adapter_version) == ("v1", "v1", None)
    assert ra.text != rc.text and rb.text != rc.text and ra.text != rb.text
    assert rc.text == base_text  # the base is unchanged by loading adapters
    for user in ("alice", "bob"):
        ref = _reference_logprob(model_dir, reg.resolve(user, 1), eng)
        assert eng.logprob(MSGS, CONT, user) == pytest.approx(ref, abs=1e-4)
    assert eng.logprob(MSGS, CONT, "carol") == pytest.approx(base_before, abs=1e-5)
    assert eng.logprob(MSGS, CONT, None) == pytest.approx(base_before, abs=1e-5)
    calls = eng.planner_log.calls("alice")
    assert len(calls) == 1 and calls[0].adapter_version == "v1" and calls[0].output == ra.text


def test_unload_and_rollback_fall_back(setup, model_dir, tmp_path):
    eng, reg = setup
    base = eng.logprob(MSGS, CONT, "alice")
    publish_random(reg, model_dir, tmp_path, "alice", seed=1)
    assert eng.generate(MSGS, "alice", max_tokens=4).adapter_version == "v1"
    reg.rollback("alice")  # v1 -> base model
    assert eng.generate(MSGS, "alice", max_tokens=4).adapter_version is None
    assert eng.peft is None and eng.logprob(MSGS, CONT, "alice") == pytest.approx(base, abs=1e-5)


def test_tampered_version_is_not_served(setup, model_dir, tmp_path):
    eng, reg = setup
    publish_random(reg, model_dir, tmp_path, "alice", seed=1)
    eng.generate(MSGS, "alice", max_tokens=2)
    publish_random(reg, model_dir, tmp_path, "alice", seed=3)
    (reg.version_dir("alice", 2) / "adapter_model.safetensors").write_bytes(b"garbage")
    assert eng.generate(MSGS, "alice", max_tokens=2).adapter_version == "v1"  # keeps the good one


def test_hot_swap_under_concurrent_requests(setup, model_dir, tmp_path):
    eng, reg = setup
    publish_random(reg, model_dir, tmp_path, "alice", seed=1)
    v2_src = publish_random  # published mid-traffic below
    seen: list[tuple[float, str | None]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def client(user):
        while not stop.is_set():
            try:
                started = time.perf_counter()
                r = eng.generate(MSGS, user, max_tokens=3)
                seen.append((started, r.adapter_version if user == "alice" else "other"))
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

    threads = [threading.Thread(target=client, args=(u,)) for u in ("alice", "alice", "bob")]
    [t.start() for t in threads]
    time.sleep(0.5)
    v2 = v2_src(reg, model_dir, tmp_path, "alice", seed=2)
    nxt = eng.generate(MSGS, "alice", max_tokens=2)  # the next request after publish
    t_served = time.perf_counter()  # v2 is being served from here on
    time.sleep(0.5)
    stop.set()
    [t.join() for t in threads]
    assert not errors
    assert nxt.adapter_version == f"v{v2.version}" == "v2"
    alice = [v for _, v in seen if v != "other"]
    assert "v1" in alice and "v2" in alice
    # once v2 appeared, alice never went back to v1
    first_v2 = alice.index("v2")
    assert all(v == "v2" for v in alice[first_v2:])
    # every alice request that started after v2 was served gets v2 (ordering, not a time budget)
    assert all(v == "v2" for started, v in seen if v != "other" and started > t_served)
    assert eng.loaded_adapters() == {"alice": 2}


def test_guided_plan_always_parses_and_is_logged_with_the_adapter(setup, model_dir, tmp_path):
    from serve.planner_engine import make_plan
    from serve.planner_prompt import Candidate, PlannerInput

    eng, reg = setup
    publish_random(reg, model_dir, tmp_path, "ann", seed=3)
    inp = PlannerInput(stage="experiment", task="classify digits",
                       skills=[Candidate(id="sk-1", text="baseline first")])
    plan, path = make_plan(eng, inp, "ann", project_id="p1", max_tokens=60)
    assert path in ("json", "repaired") and 1 <= len(plan.steps) <= 5
    assert set(plan.selected_skill_ids) <= {"sk-1"} and plan.adapter_version == "v1"
    calls = eng.planner_log.calls("ann")
    assert calls[-1].adapter_version == "v1" and calls[-1].output.startswith('{"steps": [')
