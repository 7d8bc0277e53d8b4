"""A reviewer asking for changes is feedback on a draft, not a failed research direction
(the knowledge panel listed 'round 1 meta-review overall 5' as 'did not work')."""
from __future__ import annotations

from nanoresearch.types import Phase, Trajectory, TrajectoryEvent
from actors.reflection import Reflector


def test_review_rounds_become_outcomes_and_real_failures_stay_failed_directions():
    tr = Trajectory(user_id="ana", project_id="p", phase=Phase.WRITING, events=[
        TrajectoryEvent(step="review", action="round 1 meta-review overall 5",
                        outcome="results: discuss the p-values", ok=False),
        TrajectoryEvent(step="blueprint", action="review round 1", outcome="add a stronger baseline", ok=False),
        TrajectoryEvent(step="paper", action="not compiled", outcome="LaTeX error: undefined control sequence", ok=False),
    ])
    _, mems = Reflector().rule_based(tr)
    by = {m.content.split(":")[0]: m.category for m in mems}
    assert by == {"review": "outcome", "blueprint": "outcome", "paper": "failed_direction"}
    assert any("the reviewer asked: results: discuss the p-values" in m.content for m in mems)


def test_requests_a_later_round_accepted_become_a_skill_of_the_drafting_stage():
    """Rule-based skills beyond debugging: a blueprint critique that a later round passed is
    a planning skill, a paper review likewise a writing skill; requests never accepted are
    only outcomes."""
    tr = Trajectory(user_id="ana", project_id="p", phase=Phase.IDEATION, domain="tabular",
                    conditions={"task": "classification", "dataset": "wine", "venue": "neurips"}, events=[
        TrajectoryEvent(step="blueprint", action="review round 1", ok=False,
                        outcome="add a majority-class baseline; use 3 seeds", detail={"issues": ["baselines", "seeds"]}),
        TrajectoryEvent(step="blueprint", action="review round 2", outcome="passed", ok=True),
        TrajectoryEvent(step="review", action="round 1 meta-review overall 5", ok=False,
                        outcome="results: discuss the p-values"),
    ])
    skills, _ = Reflector().rule_based(tr)
    assert len(skills) == 1  # the paper review was never accepted in this trajectory
    s = skills[0]
    assert s.stage.value == "planning" and s.name == "anticipate the blueprint reviewer: baselines, seeds"
    assert "add a majority-class baseline; use 3 seeds" in s.instructions[0]
    assert {"tabular", "wine", "classification", "review", "seeds"} <= set(s.tags) and s.scope == "ana"
    assert "(classification, wine)" in s.when_to_use
    writing = Trajectory(user_id="ana", project_id="p", phase=Phase.WRITING, events=[
        tr.events[2], TrajectoryEvent(step="review", action="round 2 meta-review overall 7", outcome="", ok=True)])
    (w,), _ = Reflector().rule_based(writing)
    assert w.stage.value == "writing" and "discuss the p-values" in w.instructions[0]
