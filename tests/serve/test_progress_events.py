"""Progress inside long steps (issue 16 item 6): typed events from the work itself (an
experiment run and its output while it runs, literature sources, LaTeX passes, SDPO
steps, each model call) reach the orchestrator's `on_event` through the workspace's
progress channel, the page's status (events.jsonl) and the CLI's lines."""
from __future__ import annotations

import io
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from rich.console import Console

from actors.progress import LedgerTail
from nanoresearch.execution.base import Limits
from nanoresearch.execution.local import LocalExecutor
from nanoresearch.literature.search import LiteratureSearch
from nanoresearch.progress import PROGRESS_FILE, ProgressChannel, channel_near, parse_event
from nanoresearch.types import (
    LatexPass, LiteratureRecord, LlmCall, RunFinished, RunOutput, RunStarted, RunStatus,
    StepStarted, TrainingStep,
)
from nanoresearch_app.progress import CHATTY, EventLog
from nanoresearch_cli.events_view import printer
from tests.training.conftest import tiny_model_dir  # noqa: F401 - the fixture

PROGRAM = """import json, os, sys, time
print("epoch 1 loss 0.9", flush=True)
print("warming up", file=sys.stderr, flush=True)
for _ in range(2400):  # waits (up to 2 min) for the test to let it finish
    if os.path.exists("go"):
        break
    time.sleep(0.05)
print("epoch 2 loss 0.4", flush=True)
json.dump({"metrics": [{"method": "m", "dataset": "d", "metric": "accuracy", "value": 0.9,
                        "seed": 0, "split": "test"}]}, open("metrics.json", "w"))
"""


def _workspace(tmp_path: Path) -> Path:
    root = tmp_path / "p-1"
    root.mkdir()
    (root / "project.json").write_text("{}")
    return root


def _events(root: Path) -> list:
    p = root / PROGRESS_FILE
    if not p.exists():
        return []
    return [parse_event(d["kind"], d) for d in map(json.loads, p.read_text().splitlines())]


def _wait(pred, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_a_run_reports_start_output_while_it_runs_and_its_end(tmp_path, monkeypatch):
    monkeypatch.setattr("nanoresearch.execution.live.OUTPUT_EVERY_S", 0.1)
    root = _workspace(tmp_path)
    wd = root / "experiment" / "code"
    wd.mkdir(parents=True)
    (wd / "run.py").write_text(PROGRAM)
    out = {}
    t = threading.Thread(target=lambda: out.update(r=LocalExecutor(Limits(timeout_s=60)).run(wd, "run.py")))
    t.start()
    try:
        # the program's first line arrives while it still runs (it waits for "go")
        assert _wait(lambda: any(isinstance(e, RunOutput) and "epoch 1" in e.tail for e in _events(root)))
        # each stream's tail is its own event: the stderr one may land a tick later
        assert _wait(lambda: any(isinstance(e, RunOutput) and e.stream == "stderr" for e in _events(root)))
        evs = _events(root)
        assert not any(isinstance(e, RunFinished) for e in evs)
        started = [e for e in evs if isinstance(e, RunStarted)]
        assert len(started) == 1 and started[0].backend == "local" and started[0].attempt == 1
        assert any(isinstance(e, RunOutput) and e.stream == "stderr" and e.tail == "warming up" for e in evs)
    finally:
        (wd / "go").write_text("")
        t.join(timeout=60)
    evs = _events(root)
    fin = [e for e in evs if isinstance(e, RunFinished)]
    assert len(fin) == 1 and fin[0].run_id == started[0].run_id
    assert fin[0].status == out["r"].status == RunStatus.SUCCEEDED and fin[0].duration_s == out["r"].duration_s
    last_out = [e for e in evs if isinstance(e, RunOutput) and e.stream == "stdout"][-1]
    assert last_out.tail.splitlines() == ["epoch 1 loss 0.9", "epoch 2 loss 0.4"]
    # a second run in the same dir is attempt 2
    (wd / "go").write_text("")
    LocalExecutor(Limits(timeout_s=60)).run(wd, "run.py")
    assert [e.attempt for e in _events(root) if isinstance(e, RunStarted)] == [1, 1]  # a new executor counts anew


def test_outside_a_project_nothing_is_reported(tmp_path):
    wd = tmp_path / "scratch"
    wd.mkdir()
    (wd / "run.py").write_text("print('hi')")
    assert channel_near(wd) is None
    LocalExecutor(Limits(timeout_s=30)).run(wd, "run.py")
    assert not list(tmp_path.rglob(PROGRESS_FILE))


class _Source:
    def __init__(self, name, titles, fail=False):
        self.name, self.titles, self.fail = name, titles, fail

    def search(self, query, k):
        if self.fail:
            raise OSError("connection refused")
        return [LiteratureRecord(id=f"{self.name}:{i}", title=t, source=self.name) for i, t in enumerate(self.titles)]


def test_literature_reports_each_source_scanned_and_kept(tmp_path):
    root = _workspace(tmp_path)
    lit = LiteratureSearch([_Source("local", ["Scaling features", "Trees on tabular data"]),
                            _Source("openalex", [], fail=True),
                            _Source("arxiv", ["Scaling Features", "k-NN and scaling", "SVM margins"])],
                           stop_when_full=False)
    lit.progress = channel_near(root)
    got = lit.search("feature scaling", k=10)
    evs = _events(root)
    assert [(e.source, e.scanned, e.kept, e.error) for e in evs] == [
        ("local", 2, 2, None), ("openalex", 0, 0, "connection refused"), ("arxiv", 3, 2, None)]
    assert len(got) == 4 and all(e.query == "feature scaling" for e in evs)


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")
def test_latex_reports_each_pass(tmp_path):
    from nanoresearch.latex.compile import compile_pdf

    root = _workspace(tmp_path)
    paper = root / "writing"
    paper.mkdir()
    (paper / "paper.tex").write_text("\\documentclass{article}\\begin{document}See \\cite{a}.\n"
                                     "\\bibliographystyle{plain}\\bibliography{refs}\\end{document}\n")
    (paper / "refs.bib").write_text("@article{a,title={T},author={A. Author},journal={J},year={2000}}\n")
    res = compile_pdf(paper, sandbox=False)
    assert res.ok, res.errors
    passes = [(e.rule, e.run) for e in _events(root) if isinstance(e, LatexPass)]
    assert passes[0] == ("pdflatex", 1) and ("bibtex", 1) in passes and ("pdflatex", 2) in passes
    assert all(isinstance(e, LatexPass) for e in _events(root))


def test_trainer_calls_back_each_step(tiny_model_dir, tmp_path):
    from tests.training.test_trainer import _triples
    from training.sdpo_config import SDPOConfig
    from training.trainer import SDPOTrainer

    steps = []
    tr = SDPOTrainer(tiny_model_dir, SDPOConfig(steps=3, max_completion_tokens=8))
    metrics = tr.train(_triples(2), tmp_path / "adapter", on_step=lambda i, s: steps.append((i, s["loss"])))
    assert [i for i, _ in steps] == [1, 2, 3]
    assert steps[0][1] == pytest.approx(metrics["loss_first"]) and steps[-1][1] == pytest.approx(metrics["loss_last"])
    ev = TrainingStep(user_id="ana", step=3, steps=3, loss=steps[-1][1])  # the event a round reports
    assert parse_event(*_fields(ev)) == ev


def _fields(ev):
    d = ev.model_dump(mode="json")
    return d.pop("kind"), d


def test_a_steps_progress_is_handed_on_before_the_step_finishes(tmp_path):
    """The orchestrator's own events go through `ordered`: what the channel holds already
    comes first, whatever the tail thread's poll interval."""
    root = _workspace(tmp_path)
    seen: list[str] = []
    tail = LedgerTail(root / "ledger.jsonl", lambda k, d: seen.append(k), poll_s=3600).start()
    emit = tail.ordered(None)
    try:
        emit("step_start", {"phase": "experiment", "step": "run"})
        ProgressChannel(root / PROGRESS_FILE).report(RunStarted(run_id="run-1"))
        ProgressChannel(root / PROGRESS_FILE).report(RunFinished(run_id="run-1", status=RunStatus.SUCCEEDED))
        emit("step_done", {"phase": "experiment", "step": "run", "seconds": 1.0})
    finally:
        tail.stop()
    assert seen == ["step_start", "run_started", "run_finished", "step_done"]


def test_the_tail_turns_ledger_and_channel_lines_into_typed_events(tmp_path):
    root = _workspace(tmp_path)
    ledger = root / "ledger.jsonl"
    seen: list[tuple[str, dict]] = []
    tail = LedgerTail(ledger, lambda k, d: seen.append((k, d)), poll_s=0.05).start()
    try:
        with ledger.open("a") as f:
            f.write(json.dumps({"agent": "writing", "provider": "scripted", "model": "m", "prompt_tokens": 40,
                                "completion_tokens": 120, "latency_s": 4.0}) + "\n")
        ProgressChannel(root / PROGRESS_FILE).report(RunStarted(run_id="run-1", backend="sandbox"))
        assert _wait(lambda: len(seen) == 2, timeout=10)
    finally:
        tail.stop()
    kinds = dict(seen)
    assert kinds["llm_call"]["tokens_per_s"] == 30.0 and kinds["llm_call"]["duration_s"] == 4.0
    assert kinds["run_started"]["run_id"] == "run-1"
    assert isinstance(parse_event("llm_call", kinds["llm_call"]), LlmCall)


def test_events_log_keeps_the_steps_beside_a_flood_of_output(tmp_path):
    log = EventLog(tmp_path / "events.jsonl")
    log.on_event("step_start", {"phase": "experiment", "step": "run"})
    for i in range(300):  # a long run: its output tail every few seconds
        log.append(RunOutput(run_id="run-1", tail=f"epoch {i}\n" * 20))
        if i == 290:
            log.append(RunOutput(run_id="run-1", stream="stderr", tail="a warning"))
        log.append(LlmCall(agent="debugging", completion_tokens=i, duration_s=1.0, tokens_per_s=float(i)))
    log.on_event("waiting_feedback", {"phase": "experiment", "wait_s": 60})
    evs = log.tail()
    kinds = [e.kind for e in evs]
    assert isinstance(evs[0], StepStarted) and evs[0].step == "run"
    assert kinds.count("llm_call") == CHATTY["llm_call"]
    outs = {e.stream: e.tail for e in evs if e.kind == "run_output"}  # the newest of each stream
    assert kinds.count("run_output") == 2 and outs["stderr"] == "a warning" and outs["stdout"].startswith("epoch 299")
    assert kinds[-1] == "feedback_waiting" and evs[-1].deadline == pytest.approx(evs[-1].at + 60)


def test_cli_prints_each_kind_as_a_line():
    buf = io.StringIO()
    show = printer(Console(file=buf, width=120, color_system=None))
    show("step_start", {"phase": "experiment", "step": "run"})
    show("llm_call", {"agent": "writing", "completion_tokens": 300, "duration_s": 10.0, "tokens_per_s": 30.0})
    show("llm_call", {"agent": "review", "completion_tokens": 3, "duration_s": 0.1})  # too quick to show
    show("literature_searched", {"source": "openalex", "scanned": 25, "kept": 7})
    show("run_started", {"run_id": "r", "attempt": 2, "backend": "sandbox"})
    show("run_output", {"run_id": "r", "tail": "epoch 1\nepoch 2\nepoch 3\nepoch 4", "stream": "stdout"})
    show("run_output", {"run_id": "r", "tail": "epoch 3\nepoch 4\nepoch 5", "stream": "stdout"})  # only the new line
    show("run_output", {"run_id": "r", "tail": "epoch 3\nepoch 4\nepoch 5", "stream": "stdout"})  # nothing new
    show("run_finished", {"run_id": "r", "attempt": 2, "status": "failed", "duration_s": 3.5, "exit_code": 1})
    show("latex_pass", {"rule": "bibtex", "run": 1, "elapsed_s": 2.0})
    show("training_step", {"step": 2, "steps": 5, "loss": 0.1234})
    show("step_done", {"phase": "experiment", "step": "run", "seconds": 12.5})
    show("ray_overhead", {"cycle_s": 3})  # no typed form: not printed
    lines = [x.strip() for x in buf.getvalue().splitlines()]
    assert lines == ["> run ...", "writing: 300 tokens in 10.0 s, 30.0 tok/s",
                     "literature openalex: 25 records, 7 kept", "run attempt 2 started (sandbox)",
                     "| epoch 2", "| epoch 3", "| epoch 4", "| epoch 5", "run failed attempt 2 in 3.5 s (exit 1)",
                     "latex: bibtex pass 1 (2.0 s)", "SDPO step 2/5: loss 0.1234", "done run (12.5 s)"]


def test_an_output_tail_starts_at_a_whole_line_and_shows_a_progress_bars_last_state():
    from nanoresearch.execution.bubble import BoundedBuffer
    from nanoresearch.execution.live import TAIL_LINES, newest_lines

    buf = BoundedBuffer()
    for i in range(200):
        buf.feed(f"epoch {i:03d} loss {1 / (i + 1):.4f} accuracy and some more words\n".encode())
    lines = newest_lines(buf).splitlines()
    assert len(lines) == TAIL_LINES and lines[-1].startswith("epoch 199") and lines[0].startswith("epoch 180")
    bar = BoundedBuffer()
    bar.feed(b"training\n 10%|#         |\r 50%|#####     |\r100%|##########|\n")
    assert newest_lines(bar) == "training\n100%|##########|"
