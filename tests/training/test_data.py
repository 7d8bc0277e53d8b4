from __future__ import annotations

import pytest

from nanoresearch.types import ChatMessage, Feedback, Phase, PlannerCall
from training.data import Triple, build_example, pair_triples, phase_of_stage, teacher_messages
from training.history import PlannerHistory


def call(user="alice", project="p1", stage="planning", output="1. load data\n2. train", t=1.0, cid="c1"):
    return PlannerCall(call_id=cid, user_id=user, project_id=project, stage=stage, output=output,
                       messages=[ChatMessage(role="system", content="You plan."),
                                 ChatMessage(role="user", content="Task: classify digits")],
                       created_at=t)


def fb(user="alice", project="p1", phase=Phase.IDEATION, text="always add an efficiency analysis", t=10.0):
    return Feedback(user_id=user, project_id=project, phase=phase, text=text, created_at=t)


def test_pairing_matches_user_project_phase_and_time():
    calls = [call(cid="a"), call(cid="b", stage="coding"), call(cid="c", user="bob"),
             call(cid="d", project="p2"), call(cid="e", t=50.0), call(cid="f", output="  ")]
    triples = pair_triples(calls, [fb(), fb(phase=Phase.EXPERIMENT, text="use fewer seeds", t=20.0),
                                   fb(text="", t=30.0)])
    got = sorted((t.call.call_id, t.feedback) for t in triples)
    assert got == [("a", "always add an efficiency analysis"), ("b", "use fewer seeds")]
    assert phase_of_stage("debugging") == "experiment" and phase_of_stage("custom") == "custom"


def test_teacher_messages_append_hindsight_to_last_user_turn():
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    out = teacher_messages(msgs, "be brief")
    assert msgs[1]["content"] == "U"  # input not mutated
    assert out[1]["content"].startswith("U") and out[1]["content"].endswith(
        "The following is the user's feedback on your previous response; use it to improve your response: be brief")
    assert teacher_messages([{"role": "system", "content": "S"}], "x")[-1]["role"] == "user"


def test_build_example_aligns_completion_tokens(tiny_model_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    ex = build_example(tok, Triple(call=call(), feedback="always add an efficiency analysis"))
    assert ex.student_ids[ex.student_start:] == ex.teacher_ids[ex.teacher_start:]
    assert ex.completion_ids[-1] == tok.eos_token_id
    assert tok.decode(ex.completion_ids[:-1]) == "1. load data\n2. train"
    assert "efficiency analysis" in tok.decode(ex.teacher_ids[:ex.teacher_start])
    assert "efficiency" not in tok.decode(ex.student_ids[:ex.student_start])
    assert tok.decode(ex.student_ids[:ex.student_start]).endswith("<|im_start|>assistant\n")
    short = build_example(tok, Triple(call=call(), feedback="f"), max_prompt_tokens=10, max_completion_tokens=3)
    assert short.student_start == 10 and short.completion_len == 3


def test_history_roundtrip_and_torn_line(tmp_path):
    h = PlannerHistory(tmp_path)
    h.append_call(call())
    h.append_feedback(fb())
    with open(h.user_dir("alice") / "calls.jsonl", "a") as fh:
        fh.write('{"kind": "planner_call", "call_id": ')  # a crash mid-write
    assert [c.call_id for c in h.calls("alice")] == ["c1"]
    assert len(h.triples("alice")) == 1 and h.triples("bob") == []
    with pytest.raises(Exception, match="not usable"):
        h.calls("../etc")
