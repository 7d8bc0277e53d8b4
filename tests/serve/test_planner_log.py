"""A planner call or feedback that cannot be logged raises and is counted (issue 15,
L5): before, the failure was logged and swallowed, so SDPO lost its training data."""
from __future__ import annotations

import pytest

from nanoresearch.types import Feedback, Phase
from serve.planner_log import PlannerLog, PlannerLogError


def test_append_failure_raises_and_is_recorded(tmp_path):
    plog = PlannerLog(tmp_path / "data")
    ok = plog.log_call(user_id="alice", messages=[{"role": "user", "content": "hi"}], output="x",
                       adapter_version=None)
    assert [c.call_id for c in plog.calls("alice")] == [ok.call_id]
    (tmp_path / "data" / "planner_log" / "bob").write_text("a file where the dir should be")
    with pytest.raises(PlannerLogError, match="could not record the planner call"):
        plog.log_call(user_id="bob", messages=[{"role": "user", "content": "hi"}], output="x",
                      adapter_version=None)
    with pytest.raises(PlannerLogError, match="feedback"):
        plog.log_feedback(Feedback(user_id="bob", project_id="p", phase=Phase.IDEATION, text="t"))
    assert plog.failures == 2 and plog.last_error
