"""The pieces behind the page, without a cycle: the view of a workspace that has nothing
yet (or a half-written file), progress events in both formats, and the artifact headers
that keep model-written files inert."""
from __future__ import annotations

import json

import pytest

from nanoresearch import artifacts as A
from nanoresearch.project_view import load_view
from nanoresearch.types import (Review, StepStarted, TokenRate, LedgerEntry)
from nanoresearch_app.progress import EventLog, latest_token_rate
from serve.web_security import artifact_headers


def test_an_empty_workspace_views_as_nothing_yet(tmp_path):
    v = load_view(tmp_path, "p-1")
    assert v.ideation is None and v.runs == [] and v.pdf is None and v.review_rounds == {}
    assert v.extras == {} and v.figures == []


def test_review_rounds_read_what_the_writer_writes_and_skip_a_broken_round(tmp_path):
    d = tmp_path / "writing" / "reviews"
    d.mkdir(parents=True)
    r1 = [Review(reviewer_id="r1", overall=4, round=1), Review(reviewer_id="meta", is_meta=True, overall=5, round=1)]
    (d / "round_1.json").write_text(json.dumps([r.model_dump(mode="json") for r in r1]))
    (d / "round_2.json").write_text("[{half written")
    rounds = A.review_rounds(tmp_path)
    assert list(rounds) == [1] and [r.reviewer_id for r in rounds[1]] == ["r1", "meta"]
    assert load_view(tmp_path, "p").review_rounds[1][1].is_meta


def test_optional_artifacts_of_other_agents_show_when_present(tmp_path):
    (tmp_path / "experiment" / "code").mkdir(parents=True)
    (tmp_path / "experiment" / "code" / "coding_notes.json").write_text('{"decisions": ["scaled features"]}')
    (tmp_path / "experiment" / "code" / "data").mkdir()
    (tmp_path / "experiment" / "code" / "data" / "tree.json").write_text("{}")  # data is not an artifact
    v = load_view(tmp_path, "p")
    assert v.extras["coding_notes"].data == {"decisions": ["scaled features"]}
    assert "tree" not in v.extras


def test_events_typed_and_the_actor_envelope_both_read(tmp_path):
    log = EventLog(tmp_path / "events.jsonl")
    log.on_event("step_start", {"phase": "ideation", "step": "ideation"})
    log.on_event("step_done", {"phase": "ideation", "step": "ideation", "seconds": 2.5})
    log.on_event("no_such_kind", {"x": 1})  # unknown kinds are not shown, and do not raise
    with (tmp_path / "events.jsonl").open("a") as f:
        f.write(json.dumps({"seq": 9, "kind": "step_start", "time": 5.0,
                            "data": {"phase": "writing", "step": "paper"}}) + "\n")
    got = log.tail()
    assert [e.kind for e in got] == ["step_started", "step_finished", "step_started"]
    assert got[1].duration_s == 2.5 and isinstance(got[2], StepStarted) and got[2].at == 5.0


def test_token_rate_from_the_ledger(tmp_path):
    p = tmp_path / "ledger.jsonl"
    assert latest_token_rate(p) is None
    p.write_text(LedgerEntry(agent="writing", model="m", completion_tokens=300, latency_s=6.0).model_dump_json() + "\n"
                 + LedgerEntry(agent="x", completion_tokens=0).model_dump_json() + "\n")
    rate = latest_token_rate(p)
    assert isinstance(rate, TokenRate) and rate.tokens_per_s == 50.0 and rate.agent == "writing"


@pytest.mark.parametrize("name", ["report.html", "fig.svg", "x.js", "page.XHTML", "a.xml"])
def test_active_artifacts_are_inert_text_attachments(name):
    media, headers = artifact_headers(name)
    assert media.startswith("text/plain") and headers["Content-Disposition"].startswith("attachment")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize("name,media,disp", [("paper.pdf", "application/pdf", "inline"),
                                             ("fig.png", "image/png", "inline"),
                                             ("run.py", "text/plain; charset=utf-8", "inline"),
                                             ("model.bin", "application/octet-stream", "attachment")])
def test_passive_artifacts_keep_a_safe_type(name, media, disp):
    got, headers = artifact_headers(name)
    assert got == media and headers["Content-Disposition"].startswith(disp)
