"""SDPO learns at its DEFAULT CPU recipe, on the real embedded planner (SmolLM2-135M).

No planted strings: the user's planner logged plans for four training tasks that use some
other baseline and report no efficiency numbers; the persona's free-form feedback asks for
a logistic-regression baseline and an efficiency table. After ONE round at `SDPOConfig()`
(what a feedback runs with when nothing is configured), on three HELD-OUT tasks the user's
adapter must give a plan that satisfies the feedback more log-probability, relative to
plans with baselines the logged plans never named (decision tree, naive Bayes, MLP), than
the base model does; another user's adapter must not move. A control round with a
feedback that asks for something else must not produce that gain, so the gain is what
this feedback says, not an effect of any round. (benchmarks/sdpo.py --learning --control
measures the same and prints it; at the old lr 1e-4 the gains were 0.2-0.5 nats, which
this test fails.)
"""
from __future__ import annotations

import pytest

from benchmarks.sdpo_learning import CONTROL_FEEDBACK, run_learning
from nanoresearch.config import load_settings
from tests.serve.planner_fixtures import publish_random
from training.hf_model import ensure_base_model
from training.sdpo_config import SDPOConfig

MIN_GAIN = 1.0  # nats on every held-out task (measured: see README 'SDPO')


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_one_round_at_the_default_recipe_moves_held_out_plans_toward_the_feedback(settings, tmp_path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 threads thrash when the cores are shared
    try:
        base_dir = ensure_base_model(settings)
        cfg = SDPOConfig()
        assert not cfg.on_policy and cfg.steps == 10  # the recipe this test is about
        res = run_learning(base_dir, settings, cfg, rounds=1,
                           bob_adapter=lambda reg: publish_random(reg, base_dir, tmp_path, "bob", seed=7))
        other = load_settings(overrides={"data_dir": str(tmp_path / "control")})
        control = run_learning(base_dir, other, cfg, rounds=1, feedback=CONTROL_FEEDBACK)
    finally:
        torch.set_num_threads(threads)
    assert all(g > MIN_GAIN for g in res.gains), (res.base, res.alice)
    assert res.bob_drift < 1e-3, (res.bob_before, res.bob_after)  # the other user did not move
    assert all(g < MIN_GAIN for g in control.gains), control.gains  # not any feedback does it
