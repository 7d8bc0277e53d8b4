"""Does SDPO move the planner toward a persona's free-form feedback, at a given recipe?

Shared by benchmarks/sdpo.py (`--learning`, the real embedded planner) and the learning
test (tests/training/test_sdpo_default_recipe.py). No planted strings: the user's planner
wrote plans for four training tasks that use some other baseline and report no efficiency
numbers; the persona's feedback asks, in free form, for a logistic-regression baseline and
an efficiency table. After the rounds, on three HELD-OUT tasks, we measure how much more
log-probability the user's adapter gives to a plan that satisfies the feedback than to
plans that do not (`margin`, nats, mean over the non-satisfying variants), against the
base model; and the same for another user, whose adapter must not move.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass

from nanoresearch.types import Feedback, Phase

TRAIN_TASKS = [
    ("Train a classifier on the digits dataset", "a random forest"),
    ("Predict customer churn from account records", "gradient boosting"),
    ("Classify news articles by topic", "a support vector machine"),
    ("Detect fraudulent card transactions", "k-nearest neighbours"),
]
HELD_OUT = ["Classify handwritten letters from pixel features",
            "Predict hospital readmission from patient records",
            "Detect spam in short text messages"]
FEEDBACK = ("Always use logistic regression as a baseline, and report an efficiency table with "
            "the training time and memory of every method.")
# the non-satisfying plans name baselines the logged plans never used, so a gain cannot
# come from merely unlearning the logged plans' own words
OTHER_BASELINES = ("a decision tree", "naive Bayes", "a multilayer perceptron")
CONTROL_FEEDBACK = "Keep every step short and name the dataset in the first step."


def plan_json(baseline: str, efficiency: bool) -> str:
    last = ("Report test accuracy and an efficiency table of training time and memory"
            if efficiency else "Report test accuracy")
    return json.dumps({"selected_skill_ids": [], "selected_memory_ids": [],
                       "steps": ["Load and split the data", f"Train {baseline} baseline",
                                 "Train the proposed model", last]})


def logged_plan(baseline: str) -> str:
    """What the planner wrote before the feedback: another baseline, no efficiency."""
    return plan_json(baseline, efficiency=False)


def satisfying() -> str:
    return plan_json("a logistic regression", efficiency=True)


def not_satisfying() -> list[str]:
    return [plan_json(b, efficiency=False) for b in OTHER_BASELINES]


def messages(task: str) -> list[dict]:
    from serve.planner_prompt import PlannerInput, build_messages
    return build_messages(PlannerInput(stage="planning", task=task))


def scores(engine, user: str | None, task: str) -> tuple[float, float]:
    """(margin, log p(satisfying plan)): margin = log p(satisfying) - mean log p(non-
    satisfying plans), nats, under `user`'s adapter (None: the base model)."""
    msgs = messages(task)
    good = engine.logprob(msgs, satisfying(), user)
    return good - statistics.fmean(engine.logprob(msgs, p, user) for p in not_satisfying()), good


def margin(engine, user: str | None, task: str) -> float:
    return scores(engine, user, task)[0]


def log_round(plog, user: str, project: str, tasks=TRAIN_TASKS, feedback: str = FEEDBACK) -> None:
    for task, baseline in tasks:
        plog.log_call(user_id=user, project_id=project, stage="planning", messages=messages(task),
                      adapter_version=None, output=logged_plan(baseline))
    plog.log_feedback(Feedback(user_id=user, project_id=project, phase=Phase.IDEATION, text=feedback,
                               source="simulated"))


def satisfies(text: str) -> tuple[bool, bool]:
    t = text.lower()
    return "logistic" in t, "efficien" in t or ("time" in t and "memory" in t)


@dataclass
class LearningResult:
    base: list[float]  # margins under the base model, per held-out task
    alice: list[float]  # under alice's adapter after the rounds
    base_good: list[float]  # log p(satisfying plan), base
    alice_good: list[float]  # ... alice's adapter
    bob_before: list[float]
    bob_after: list[float]
    seconds: float
    metrics: dict

    @property
    def gains(self) -> list[float]:
        return [a - b for a, b in zip(self.alice, self.base)]

    @property
    def good_gains(self) -> list[float]:
        return [a - b for a, b in zip(self.alice_good, self.base_good)]

    @property
    def bob_drift(self) -> float:
        return max(abs(a - b) for a, b in zip(self.bob_after, self.bob_before))


def run_learning(base_dir, settings, config, rounds: int = 1, bob_adapter=None,
                 feedback: str = FEEDBACK) -> LearningResult:
    """`rounds` feedback rounds for alice at `config` through `run_round` (the path the
    product takes); bob has an adapter published before (`bob_adapter(registry)`) and
    gives no feedback, so his margins must not move."""
    import time

    from serve.planner_engine import PlannerEngine
    from serve.planner_log import PlannerLog
    from storage.adapters import AdapterRegistry
    from training.rounds import run_round
    from training.trainer import SDPOTrainer

    registry, plog = AdapterRegistry(settings.adapters_dir), PlannerLog(settings.data_dir)
    trainer = SDPOTrainer(base_dir, config)
    engine = PlannerEngine(base_dir, registry, plog, model=None, tokenizer=trainer.tokenizer)
    if bob_adapter is not None:
        bob_adapter(registry)
        engine.refresh("bob")
    base = [scores(engine, None, t) for t in HELD_OUT]
    bob_before = [margin(engine, "bob", t) for t in HELD_OUT] if bob_adapter else [m for m, _ in base]
    t0, rec = time.perf_counter(), None
    for r in range(rounds):
        log_round(plog, "alice", f"p{r}", feedback=feedback)
        rec = run_round(trainer, registry, plog.history, "alice")
    seconds = time.perf_counter() - t0
    engine.refresh("alice")
    alice = [scores(engine, "alice", t) for t in HELD_OUT]
    bob_after = [margin(engine, "bob", t) for t in HELD_OUT] if bob_adapter else [m for m, _ in base]
    return LearningResult([m for m, _ in base], [m for m, _ in alice], [g for _, g in base],
                          [g for _, g in alice], bob_before, bob_after, seconds,
                          dict(rec.metrics) if rec else {})
