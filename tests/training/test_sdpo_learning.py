"""Learning test on the REAL embedded planner (SmolLM2-135M): after two feedback rounds
with a consistent preference ("always add an efficiency analysis"), the log-probability
of a plan continuation that has the efficiency step rises relative to one without it, on
held-out planner inputs; another user's adapter and the base model are unchanged.

The logged outputs vary as a planner's do: in each round one plan has an efficiency step
and one does not. SDPO's teacher (same model + the feedback in context) rates the
efficiency tokens far higher than the student does, so they get a positive advantage and
the end-of-plan-without-it a negative one. Logged plans that all lack the step carry the
preference in one token per plan only, which a few CPU steps do not move (measured:
the margin fell by ~2 nats)."""
from __future__ import annotations

import json

import pytest

from nanoresearch.types import Feedback, Phase
from serve.planner_engine import PlannerEngine
from serve.planner_log import PlannerLog
from serve.planner_prompt import PlannerInput, build_messages
from storage.adapters import AdapterRegistry, checksum_dir
from tests.serve.planner_fixtures import publish_random
from training.hf_model import ensure_base_model
from training.rounds import run_round
from training.sdpo_config import SDPOConfig
from training.trainer import SDPOTrainer

ROUNDS = [["Train a classifier on the digits dataset", "Forecast monthly airline passengers"],
          ["Classify news articles by topic", "Predict house prices from tabular features"]]
HELD_OUT = ["Cluster customer purchase records", "Detect anomalies in sensor time series"]
FEEDBACK = "Always add an efficiency analysis step: measure training time and memory use of every method."
STEPS = ["Load and split the data", "Train a simple baseline", "Train the proposed model"]
PREFIX = json.dumps({"selected_skill_ids": [], "selected_memory_ids": [], "steps": STEPS})[:-2] + '", '
PREFERRED = '"Measure training time and memory use", "Report the test metric"]'
DISPREFERRED = '"Report the test metric"]'


def logged_output(with_efficiency: bool) -> str:
    """What the planner wrote before the feedback."""
    extra = ["Measure training time and memory use"] if with_efficiency else []
    return json.dumps({"selected_skill_ids": [], "selected_memory_ids": [],
                       "steps": STEPS + extra + ["Report the test metric"], "rationale": "A small, standard pipeline."})


def margin(engine: PlannerEngine, user: str | None, task: str) -> float:
    msgs = build_messages(PlannerInput(stage="planning", task=task))
    return (engine.logprob(msgs, PREFIX + PREFERRED, user) - engine.logprob(msgs, PREFIX + DISPREFERRED, user))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_feedback_rounds_shift_planner_towards_preference(settings, tmp_path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 threads thrash when the cores are shared
    try:
        _run_rounds_and_check(settings, tmp_path)
    finally:
        torch.set_num_threads(threads)


def _run_rounds_and_check(settings, tmp_path):
    base_dir = ensure_base_model(settings)
    registry, plog = AdapterRegistry(settings.adapters_dir), PlannerLog(settings.data_dir)
    # sampled-token loss, lr 1e-3: 8 CPU steps in all (measured here: +15-16 nats of margin after
    # 8 steps; the full-logit KL at the same lr moved it by -2 to -3 nats on this data)
    trainer = SDPOTrainer(base_dir, SDPOConfig(steps=4, batch_size=2, loss="sampled_token", learning_rate=1e-3,
                                               max_completion_tokens=96))
    engine = PlannerEngine(base_dir, registry, plog, model=None, tokenizer=trainer.tokenizer)
    bob = publish_random(registry, base_dir, tmp_path, "bob", seed=7)
    bob_sum = checksum_dir(registry.resolve("bob", bob.version))
    before = {u: [margin(engine, u, t) for t in HELD_OUT] for u in (None, "bob")}
    assert engine.active_version("bob") == 1 and before["bob"] != pytest.approx(before[None], abs=1e-3)

    for r, tasks in enumerate(ROUNDS):  # each round: planner calls, stage feedback, SDPO
        for i, t in enumerate(tasks):
            plog.log_call(user_id="alice", project_id=f"p{r}", stage="planning",
                          messages=build_messages(PlannerInput(stage="planning", task=t)),
                          adapter_version=None, output=logged_output(with_efficiency=i == 1))
        plog.log_feedback(Feedback(user_id="alice", project_id=f"p{r}", phase=Phase.IDEATION, text=FEEDBACK))
        run_round(trainer, registry, plog.history, "alice")

    assert registry.current("alice").version == 2 and registry.current("alice").parent_version == 1
    assert engine.refresh("alice") == 2
    base_m = before[None]
    alice_m = [margin(engine, "alice", t) for t in HELD_OUT]
    gains = [a - b for a, b in zip(alice_m, base_m)]
    assert all(g > 1.0 for g in gains), (base_m, alice_m)  # nats, on every held-out input
    # the base model and the other user's adapter are untouched
    assert [margin(engine, None, t) for t in HELD_OUT] == pytest.approx(base_m, abs=1e-4)
    assert [margin(engine, "bob", t) for t in HELD_OUT] == pytest.approx(before["bob"], abs=1e-4)
    assert checksum_dir(registry.resolve("bob", bob.version)) == bob_sum
