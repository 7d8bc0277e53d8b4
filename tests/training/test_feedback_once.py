"""Each feedback trains the planner at most once: the CLI's `nanoresearch feedback` and the
stage gate both see the same feedback record (the gate reads the file the CLI wrote), and
only the first of them starts an SDPO round (training/history.py `claim_round`)."""
from __future__ import annotations

import json

import pytest

from nanoresearch.types import AdapterVersion, ChatMessage, Feedback, Phase, PlannerCall
from nanoresearch.workspace import Workspace
from training.background import train_in_background
from training.history import PlannerHistory


def _call(h: PlannerHistory, cid: str, project: str = "p1", t: float = 1.0) -> None:
    h.append_call(PlannerCall(call_id=cid, user_id="alice", project_id=project, stage="planning",
                              messages=[ChatMessage(role="user", content="Task: plan a study")],
                              output="1. load data\n2. train", created_at=t))


def _fb(text: str, project: str = "p1", t: float = 2.0) -> Feedback:
    return Feedback(user_id="alice", project_id=project, phase=Phase.IDEATION, text=text, created_at=t)


class CountingJob:
    def __init__(self, tmp_path, fail: bool = False):
        self.calls, self.fail, self.tmp_path = 0, fail, tmp_path

    def __call__(self) -> AdapterVersion:
        self.calls += 1
        if self.fail:
            raise RuntimeError("trainer crashed")
        return AdapterVersion(user_id="alice", version=self.calls, path=str(self.tmp_path),
                              base_model="m", checksum="0" * 64)


@pytest.fixture()
def sync_settings(settings):
    settings.serve.train_in_background = False
    return settings


def test_the_same_feedback_logged_twice_is_kept_once(settings):
    h = PlannerHistory(settings.data_dir)
    _call(h, "c1")
    fb = _fb("always add an efficiency table")
    assert h.append_feedback(fb) is True
    assert h.append_feedback(fb) is False  # the gate logs what the CLI logged already
    assert [f.feedback_id for f in h.feedbacks("alice")] == [fb.feedback_id]
    assert len(h.triples("alice")) == 1


def test_a_feedback_triggers_one_round_and_new_feedback_another(sync_settings, tmp_path):
    h = PlannerHistory(sync_settings.data_dir)
    _call(h, "c1")
    fb = _fb("always add an efficiency table")
    h.append_feedback(fb)
    job = CountingJob(tmp_path)
    first = train_in_background(sync_settings, "alice", tmp_path, job=job)
    assert first.wait(5).version == 1 and first.skipped is None
    second = train_in_background(sync_settings, "alice", tmp_path, job=job)  # the gate, same feedback
    assert second.done() and second.wait(5) is None and "already consumed" in second.skipped
    assert job.calls == 1
    rounds = h.rounds("alice")
    assert [(r.status, r.feedback_ids, r.adapter_version) for r in rounds] == \
        [("published", [fb.feedback_id], 1)]
    # a new feedback (another project) is new training signal: one more round, for it only
    _call(h, "c2", project="p2", t=3.0)
    fb2 = _fb("use logistic regression as a baseline", project="p2", t=4.0)
    h.append_feedback(fb2)
    third = train_in_background(sync_settings, "alice", tmp_path, job=job)
    assert third.wait(5).version == 2 and job.calls == 2
    assert h.rounds("alice")[-1].feedback_ids == [fb2.feedback_id]


def test_a_failed_round_releases_its_feedback(sync_settings, tmp_path):
    h = PlannerHistory(sync_settings.data_dir)
    _call(h, "c1")
    h.append_feedback(_fb("always add an efficiency table"))
    bad = train_in_background(sync_settings, "alice", tmp_path, job=CountingJob(tmp_path, fail=True))
    with pytest.raises(RuntimeError, match="trainer crashed"):
        bad.wait(5)
    assert h.rounds("alice")[0].status == "failed" and not h.consumed_feedback_ids("alice")
    ok = CountingJob(tmp_path)
    assert train_in_background(sync_settings, "alice", tmp_path, job=ok).wait(5).version == 1
    assert ok.calls == 1


def test_cli_feedback_then_stage_gate_trains_once(sync_settings, tmp_path, monkeypatch):
    """The real entry points: `apply_feedback` (what `nanoresearch feedback` calls) trains;
    the stage gate's `feedback_trainer` then gets the same record and trains nothing, and
    the project's planner_updates.json says it was skipped."""
    import training.hf_model
    import training.rounds
    from nanoresearch_app import compose

    calls = []

    def fake_round(base_dir, adapters_dir, data_dir, user_id, config=None, device="cpu", progress=None):
        calls.append(user_id)
        return AdapterVersion(user_id=user_id, version=len(calls), path=str(tmp_path), base_model="m",
                              checksum="0" * 64).model_dump(mode="json")

    monkeypatch.setattr(training.rounds, "run_round_from_paths", fake_round)
    monkeypatch.setattr(training.hf_model, "ensure_base_model", lambda s: tmp_path)
    _call(PlannerHistory(sync_settings.data_dir), "c1")
    fb = _fb("always report an efficiency table")
    out = compose.apply_feedback(sync_settings, fb, wait=True, use_ray=False)
    assert out["adapter_version"] == 1 and calls == ["alice"]
    pending: list = []
    compose.feedback_trainer(sync_settings, False, compose.VARIANTS["full"], pending)(fb)
    ws = Workspace(tmp_path / "p1")
    compose._wait_rounds(pending, ws)
    assert calls == ["alice"]  # not trained a second time
    rows = json.loads(ws.path("planner_updates.json").read_text())
    assert rows[0]["status"] == "skipped" and "already consumed" in rows[0]["why"]
    again = compose.apply_feedback(sync_settings, fb, wait=True, use_ray=False)  # posted twice
    assert again["training"].startswith("skipped") and calls == ["alice"]
    assert len(PlannerHistory(sync_settings.data_dir).feedbacks("alice")) == 1
