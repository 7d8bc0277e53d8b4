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
