"""Sweep bookkeeping: cells, resumability, scheduling, bootstrap CIs, report files.

The cycle itself is replaced where noted (run_cell / run_project): these tests check the
sweep machinery; the end-to-end run with the scripted model is in test_sweep_e2e.py.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np
import pytest

from benchmarks import sweep
from benchmarks.sweep_stats import learning_markdown, learning_summary, per_task_markdown
from benchmarks.sweep_cells import (
    Cell, CellRecord, ChainScheduler, SweepLayout, aggregate, bootstrap_ci, make_chains,
    markdown_table, pending, write_report,
)
from nanoresearch.errors import UserError
from nanoresearch.llm.scripted import FunctionModel
from nanoresearch.types import Phase, ProjectState, ProjectStatus


def rec(task="tab_01", variant="base", rnd=1, kind="deterministic", q=(5, 5, 5), tokens=100,
        e2e=1.0, debug=0, align=None) -> CellRecord:
    j = {"compliance": q[0], "innovation": q[1], "expression": q[2], "effectiveness": 0.1,
         "executability": e2e}
    return CellRecord(task=task, variant=variant, round=rnd, project_id=Cell(task, variant, rnd).project_id,
                      persona="p", persona_kind=kind, status="done", judgement=j,
                      quality=float(np.mean(q)), executability=e2e, tokens=tokens,
                      debug_iterations=debug, wall_s=3.0, alignment=align)


# ---------------------------------------------------------------------- cells
def test_chains_and_pending_skip_done_cells(tmp_path):
    layout = SweepLayout(tmp_path)
    chains = make_chains(["a", "b"], ["base", "full"], 2)
    assert len(chains) == 4 and all([c.round for c in ch] == [1, 2] for ch in chains)
    layout.save(rec("a", "base", 1))
    layout.save(rec("b", "full", 1))
    layout.save(rec("b", "full", 2))
    todo = pending(layout, chains)
    keys = sorted(c.key for ch in todo for c in ch)
    assert keys == ["a/base/r2", "a/full/r1", "a/full/r2", "b/base/r1", "b/base/r2"]
    assert Cell("a", "base", 1).project_id == "sw-a-base-r1"  # stable across reruns
    with pytest.raises(ValueError, match="rounds"):
        make_chains(["a"], ["base"], 0)


def test_scheduler_limits_workers_and_keeps_round_order():
    chains = make_chains(["a", "b", "c"], ["base"], 3)
    log, flight, peak = [], [], [0]

    def submit(cell):
        flight.append(cell)
        peak[0] = max(peak[0], len(flight))
        return cell

    def wait(handles):
        h = handles[-1]  # finish the newest first: order must still hold within a chain
        flight.remove(h)
        return h, "ok"

    ChainScheduler(chains, 2).run(submit, wait, lambda c, r: log.append(c))
    assert peak[0] == 2 and len(log) == 9
    for t in "abc":
        assert [c.round for c in log if c.task == t] == [1, 2, 3]


def test_scheduler_stops_a_failed_chain_only():
    chains = make_chains(["a", "b"], ["base"], 2)
    done = []

    def submit(cell):
        return cell

    def wait(handles):
        h = handles[0]
        return h, RuntimeError("boom") if h.task == "a" else "ok"

    ChainScheduler(chains, 2).run(submit, wait, lambda c, r: done.append(c.key))
    assert sorted(done) == ["a/base/r1", "b/base/r1", "b/base/r2"]


# ---------------------------------------------------------------------- statistics
def test_bootstrap_ci_on_known_data():
    assert bootstrap_ci([]) is None and bootstrap_ci([None]) is None
    assert bootstrap_ci([4.0]) == (4.0, 4.0, 4.0)
    assert bootstrap_ci([2.0] * 10) == (2.0, 2.0, 2.0)
    data = [0.0, 1.0] * 50  # mean 0.5, standard error 0.05: 95% CI about +-0.098
    m, lo, hi = bootstrap_ci(data, seed=0)
    assert m == 0.5 and 0.38 < lo < 0.43 and 0.57 < hi < 0.62
    assert bootstrap_ci(data, seed=0) == (m, lo, hi)  # fixed seed: reproducible
    rng = np.random.default_rng(1)
    x = rng.normal(10, 2, size=400)
    m, lo, hi = bootstrap_ci(x)
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert lo < m < hi and abs((hi - lo) - 2 * 1.96 * se) < 0.25 * se * 2 * 1.96


def test_aggregate_per_variant_and_round():
    recs = [rec("a", "base", 1, q=(2, 2, 2), tokens=100), rec("b", "base", 1, q=(4, 4, 4), tokens=300),
            rec("a", "full", 1, q=(6, 6, 6)), rec("a", "full", 2, q=(8, 8, 8), debug=2)]
    agg = aggregate(recs)
    assert agg["per_variant"]["base"]["quality"]["mean"] == 3.0
    assert agg["per_variant"]["base"]["tokens"]["mean"] == 200.0
    assert agg["per_round"]["full"]["2"]["debug_iterations"]["mean"] == 2.0
    assert set(agg["per_round"]["full"]) == {"1", "2"} and set(agg["per_round"]["base"]) == {"1"}
    table = markdown_table(agg)
    assert "| full | 2 | 1 | - | 8.00 |" in table and "| base | all | 2 | - | 3.00 [2.00, 4.00] |" in table
    agg = aggregate([rec("a", "full", 1, align=0.5), rec("b", "full", 1, align=1.0)])
    assert agg["per_round"]["full"]["1"]["alignment"]["mean"] == 0.75


def chain(task, variant, aligns):
    return [rec(task, variant, i + 1, align=a) for i, a in enumerate(aligns)]


def test_learning_rise_is_paired_per_task_and_judged_against_base_ci():
    recs = (chain("a", "base", (0.5, 0.5, 0.5)) + chain("b", "base", (0.5, 0.5, 1.0)) +
            chain("c", "base", (1.0, 1.0, 1.0)) +
            chain("a", "full", (0.5, 1.0, 1.0)) + chain("b", "full", (0.0, 0.5, 1.0)) +
            chain("c", "full", (0.5, 1.0, 1.0)) +
            chain("d", "full", (0.5, 1.0)))  # an unfinished chain is no rise
    s = learning_summary(recs)
    assert s["last_round"] == 3
    assert s["per_variant"]["base"]["tasks"] == {"a": 0.0, "b": 0.5, "c": 0.0}
    assert s["per_variant"]["full"]["tasks"] == {"a": 0.5, "b": 1.0, "c": 0.5}
    full, base = s["per_variant"]["full"]["rise"], s["per_variant"]["base"]["rise"]
    assert full["mean"] == pytest.approx(2 / 3) and base["mean"] == pytest.approx(1 / 6)
    assert base["lo"] == 0.0 and base["hi"] == 0.5 and full["n"] == 3
    v = s["verdict"]
    assert v["paired_tasks"] == ["a", "b", "c"] and v["difference"]["mean"] == pytest.approx(0.5)
    assert v["mean_above_control_ci"] and v["cis_disjoint"] is False and v["difference_ci_excludes_0"]
    md = learning_markdown(s)
    assert "| full | +0.67 [" in md and "CI excludes 0: yes" in md and "disjoint: no" in md
    assert "| d | - | 0.50 / 1.00 |" in per_task_markdown(recs)


def test_learning_verdict_says_no_when_full_does_not_rise_and_na_for_one_task():
    flat = chain("a", "base", (0.5, 0.5, 1.0)) + chain("b", "base", (0.5, 0.5, 0.5)) + \
        chain("a", "full", (0.5, 0.5, 0.5)) + chain("b", "full", (1.0, 1.0, 1.0))
    v = learning_summary(flat)["verdict"]
    assert v["mean_above_control_ci"] is False and v["difference_ci_excludes_0"] is False
    one = learning_summary(chain("a", "base", (0.5, 0.5, 0.5)) + chain("a", "full", (0.5, 1.0, 1.0)))
    assert one["verdict"]["cis_disjoint"] is None and one["verdict"]["difference"]["mean"] == 0.5
    assert "n/a" in learning_markdown(one)
    assert learning_summary(chain("a", "full", (0.5,)))["per_variant"] == {}  # round 1 only: no rise
    assert learning_markdown(learning_summary(chain("a", "full", (0.5,)))) == ""


def test_report_files_and_deterministic_label(tmp_path):
    layout = SweepLayout(tmp_path)
    for r in (rec("a", "base", 1), rec("a", "base", 2, q=(6, 7, 8)), rec("a", "full", 1),
              rec("a", "full", 2, q=(9, 9, 9))):
        layout.save(r)
    out = write_report(layout, {"sweep": "t"})
    md = (tmp_path / "report.md").read_text()
    assert "DETERMINISTIC personas" in md and "| base | 2 |" in md
    assert "## Learning: alignment rise from round 1 to round 2" not in md  # no alignment recorded
    data = json.loads((tmp_path / "results.json").read_text())
    assert len(data["cells"]) == 4 and "DETERMINISTIC" in data["persona_note"]
    assert data["learning"]["metric"] == "alignment" and data["learning"]["verdict"] is None
    for name in ("quality", "tokens", "debug_iterations"):
        png = tmp_path / f"curve_{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    assert str(tmp_path / "report.md") in out["files"]
    llm_only = SweepLayout(tmp_path / "llm")
    llm_only.save(rec(kind="llm (0/3 fell back)"))
    assert "DETERMINISTIC" not in write_report(llm_only, {})["note"]
    with pytest.raises(ValueError, match="no finished cells"):
        write_report(SweepLayout(tmp_path / "empty"), {})


# ---------------------------------------------------------------------- users and tasks
def test_tasks_personas_and_simulated_user_labels():
    assert sweep.load_task("nlp_01").question_id == "nlp_01"
    assert sweep.persona_for("nlp_01").id == "ablation_lover"
    with pytest.raises(UserError, match="unknown task"):
        sweep.load_task("nope_99")
    p = sweep.persona_for("tab_01")
    det = sweep.SimulatedUser(p, "deterministic")
    assert det.kind == "deterministic" and det(Phase.IDEATION, "a summary")
    # a model answer too short to use falls back to the deterministic persona, and is counted
    short = sweep.SimulatedUser(p, "llm", FunctionModel(lambda m: "ok"))
    short(Phase.WRITING, "draft")
    good = sweep.SimulatedUser(p, "llm", FunctionModel(lambda m: "Please add stronger baselines to this."))
    good(Phase.WRITING, "draft")
    assert short.kind == "llm (1/1 fell back)" and good.kind == "llm (0/1 fell back)"


# ---------------------------------------------------------------------- CLI machinery
def _fake_cell(calls):
    def run_cell(cfg, cell):
        calls.append(cell.key)
        time.sleep(0.01)
        r = rec(cell.task, cell.variant, cell.round, q=(cell.round, 5, 5))
        SweepLayout(cfg.out_dir).save(r)
        return r
    return run_cell


def test_main_skips_done_cells_and_writes_report(tmp_path, monkeypatch, capsys):
    calls: list[str] = []
    monkeypatch.setattr(sweep, "run_cell", _fake_cell(calls))
    argv = ["--tasks", "tab_01,nlp_01", "--rounds", "2", "--variants", "base,full", "--no-ray",
            "--out", str(tmp_path / "sw"), "--dry-scripted"]
    assert sweep.main(argv) == 0
    assert len(calls) == 8
    assert "Code (commit per cell): unrecorded." in (tmp_path / "sw" / "report.md").read_text()  # fake cells
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["cells_run"] == 8 and last["persona_kinds"] == ["deterministic"]
    assert (tmp_path / "sw" / "curve_quality.png").exists()
    # one cell lost: only it is rerun
    (tmp_path / "sw" / "full" / "nlp_01" / "round_2" / "cell.json").unlink()
    calls.clear()
    assert sweep.main(argv) == 0
    assert calls == ["nlp_01/full/r2"]
    (tmp_path / "sw" / "base" / "tab_01" / "round_1" / "cell.json").unlink()
    calls.clear()
    assert sweep.main(argv + ["--report-only"]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert calls == [] and last["cells_done"] == 7 and last["cells_run"] == 0
    with pytest.raises(UserError, match="unknown variant"):
        sweep.main(argv[:4] + ["--variants", "base,bogus"])


def test_run_cell_resumes_an_interrupted_round(tmp_path, monkeypatch):
    """A round whose project exists continues that project (same id and state) and is
    judged and saved; a fresh round starts a new project."""
    import nanoresearch_app.compose as compose

    seen: list[ProjectState] = []

    def fake_run_project(settings, state, **kw):
        seen.append(state)
        assert kw["use_ray"] is False and kw["variant"].name == "full"
        return state.model_copy(update={"status": ProjectStatus.DONE})

    monkeypatch.setattr(compose, "run_project", fake_run_project)
    args = sweep.parse_args(["--tasks", "tab_01", "--dry-scripted", "--out", str(tmp_path)])
    base = sweep.base_settings(args, tmp_path)
    cfg = sweep.SweepConfig(str(tmp_path), base.model_dump_json(), "deterministic",
                            str(tmp_path / "shared"))
    cell = Cell("tab_01", "full", 1)
    ws = SweepLayout(tmp_path).home("tab_01", "full") / "projects" / cell.project_id
    ws.mkdir(parents=True)
    old = ProjectState(project_id=cell.project_id, user_id="persona-bench_max",
                       topic=sweep.load_task("tab_01"), status=ProjectStatus.RUNNING, created_at=1.0)
    (ws / "project.json").write_text(old.model_dump_json())
    r = sweep.run_cell(cfg, cell)
    assert r.resumed and seen[-1].created_at == 1.0 and seen[-1].project_id == cell.project_id
    assert SweepLayout(tmp_path).is_done(cell) and r.executability == 0.0  # no PDF: not E2E
    assert (SweepLayout(tmp_path).home("tab_01", "full") / "models").is_symlink()
    r2 = sweep.run_cell(cfg, Cell("tab_01", "full", 2))
    assert not r2.resumed and seen[-1].project_id == "sw-tab_01-full-r2"


def test_scaling_simulated_cell_makes_metered_structured_calls():
    from benchmarks.sweep_scaling import simulated_cell

    out = simulated_cell({"calls": 3, "latency": 0.02}, Cell("sim0", "full", 1))
    assert out["calls"] == 3 and out["wall_s"] >= 0.06 and out["cell"] == "sim0/full/r1"


# ---------------------------------------------------------------------- honest cells
def _cfg(tmp_path):
    args = sweep.parse_args(["--tasks", "tab_01", "--dry-scripted", "--out", str(tmp_path)])
    base = sweep.base_settings(args, tmp_path)
    return sweep.SweepConfig(str(tmp_path), base.model_dump_json(), "deterministic",
                             str(tmp_path / "shared"))


def test_a_cell_whose_cycle_raised_is_not_done_and_fails_the_sweep(tmp_path, monkeypatch, capsys):
    import nanoresearch_app.compose as compose

    def boom(settings, state, **kw):
        raise RuntimeError("sandbox exploded")

    monkeypatch.setattr(compose, "run_project", boom)
    cfg, cell = _cfg(tmp_path), Cell("tab_01", "base", 1)
    r = sweep.run_cell(cfg, cell)
    layout = SweepLayout(tmp_path)
    assert r.errored and not layout.is_done(cell) and "sandbox exploded" in r.error
    assert (layout.cell_dir(cell) / "error.json").exists()
    assert pending(layout, make_chains(["tab_01"], ["base"], 1)) == [[cell]]  # rerun next time
    # the CLI: the errored cell makes the exit code non-zero, the chain's later rounds wait
    calls = []

    def mixed(cfg, c):
        calls.append(c.key)
        if c.task == "tab_01":
            SweepLayout(cfg.out_dir).save_error(r)
            return r
        good = rec(c.task, c.variant, c.round)
        SweepLayout(cfg.out_dir).save(good)
        return good

    monkeypatch.setattr(sweep, "run_cell", mixed)
    argv = ["--tasks", "tab_01,nlp_01", "--rounds", "2", "--variants", "base", "--no-ray",
            "--out", str(tmp_path / "sw"), "--dry-scripted"]
    assert sweep.main(argv) == 1
    assert "tab_01/base/r2" not in calls and "nlp_01/base/r2" in calls
    n = len(calls)
    assert sweep.main(argv + ["--report-only"]) == 1 and len(calls) == n  # still not done, nothing run
    assert "base/tab_01/round_1/error.json" in (tmp_path / "sw" / "report.md").read_text()


def test_sdpo_that_publishes_nothing_and_a_raising_judge_leave_the_cell_undone(tmp_path, monkeypatch):
    import nanoresearch_app.compose as compose

    def fake_run(settings, state, feedback=None, **kw):
        feedback.ask(state.user_id, state.project_id, Phase.IDEATION, "summary")
        return state.model_copy(update={"status": ProjectStatus.DONE})

    monkeypatch.setattr(compose, "run_project", fake_run)
    cfg = _cfg(tmp_path)
    r = sweep.run_cell(cfg, Cell("tab_01", "full", 1))
    assert r.errored and r.sdpo["failed"].startswith("SDPO published no adapter")
    assert r.sdpo["feedback"] == 1 and r.status == "done"
    assert not SweepLayout(tmp_path).is_done(Cell("tab_01", "full", 1))
    ok = sweep.run_cell(cfg, Cell("tab_01", "base", 1))  # base trains nothing: not a failure
    assert not ok.errored and ok.sdpo == {"enabled": False, "feedback": 1, "adapters_before": 0,
                                          "adapters_after": 0, "path": "in_process", "trained_by": []}
    assert ok.judge_model and ok.alignment is not None or ok.judgement["preferences"]

    def judge_raises(*a, **kw):
        raise ValueError("judge model missing")

    monkeypatch.setattr(sweep, "judge_cell", judge_raises)
    bad = sweep.run_cell(cfg, Cell("tab_01", "base", 2))
    assert bad.errored and "judge model missing" in bad.judge_error


def _publish(settings, user_id: str, metrics: dict) -> None:
    from storage.adapters import AdapterRegistry

    src = settings.data_dir / "staged-adapter"
    src.mkdir(parents=True, exist_ok=True)
    (src / "adapter_config.json").write_text("{}")
    AdapterRegistry(settings.adapters_dir).publish(user_id, src, metrics=metrics)


@pytest.mark.parametrize("path", ["ray_train", "in_process"])
def test_each_cell_records_which_path_trained_its_adapters(tmp_path, monkeypatch, path):
    """A Ray sweep's cell trains through the Ray Train job, on the cycle's own thread (so
    Ray lends the task's CPU to the Train worker); the record says which path made each
    adapter, from the adapter's own metrics; another path than the sweep's fails the cell."""
    import nanoresearch_app.compose as compose
    from training.trained_by import RAY_TRAIN_METRIC

    seen = []

    def fake_run(settings, state, feedback=None, **kw):  # trains on the path under test
        seen.append((kw["use_ray"], kw["train_on_ray"], settings.serve.train_in_background))
        feedback.ask(state.user_id, state.project_id, Phase.IDEATION, "summary")
        made_by_ray = {RAY_TRAIN_METRIC: 1.0} if path == "ray_train" else {}
        _publish(settings, state.user_id, {"steps": 1.0, **made_by_ray})
        return state.model_copy(update={"status": ProjectStatus.DONE})

    monkeypatch.setattr(compose, "run_project", fake_run)
    cfg = dataclasses.replace(_cfg(tmp_path), sdpo_path=path)
    r = sweep.run_cell(cfg, Cell("tab_01", "sdpo", 1))
    on_ray = path == "ray_train"
    assert seen == [(False, on_ray, not on_ray)]
    assert not r.errored and r.sdpo["path"] == path and r.sdpo["trained_by"] == [path]
    assert r.sdpo["adapters_after"] == 1
    # an adapter made by another path than the sweep's is a failure, not a silent switch
    other = dataclasses.replace(cfg, sdpo_path="in_process" if on_ray else "ray_train")
    bad = sweep.run_cell(other, Cell("tab_01", "sdpo", 2))
    assert seen[-1] == (False, not on_ray, on_ray)
    assert bad.errored and "not by the sweep's path" in bad.sdpo["failed"]
    assert bad.sdpo["trained_by"] == [path]  # only this round's adapter


def test_the_cli_picks_the_sdpo_path_from_no_ray(tmp_path, monkeypatch):
    import benchmarks.ray_sweep as ray_sweep

    got, layout = [], SweepLayout(tmp_path / "sw")

    def runner(kind):
        def run(cfg, *a):
            got.append((kind, cfg.sdpo_path))
            layout.save(rec("tab_01", "sdpo", 1))
        return run

    monkeypatch.setattr(sweep, "run_inline", runner("inline"))
    monkeypatch.setattr(ray_sweep, "run_chains_ray", runner("ray"))
    argv = ["--tasks", "tab_01", "--rounds", "1", "--variants", "sdpo", "--dry-scripted",
            "--out", str(tmp_path / "sw")]
    sweep.main(argv + ["--no-ray"])
    layout.record_path(Cell("tab_01", "sdpo", 1)).unlink()
    sweep.main(argv)
    assert got == [("inline", "in_process"), ("ray", "ray_train")]


def test_a_chain_claimed_by_a_live_process_is_skipped_and_a_dead_ones_claim_is_taken_over(tmp_path, monkeypatch):
    """Several `--no-ray` processes on one out dir (one per core) share the chains."""
    import subprocess
    import sys

    layout = SweepLayout(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim = layout.chain_dir("tab_01", "base") / "claim.json"
        claim.parent.mkdir(parents=True)
        claim.write_text(json.dumps({"pid": other.pid}))
        calls: list[str] = []
        monkeypatch.setattr(sweep, "run_cell", _fake_cell(calls))
        skipped: list[str] = []
        cfg = _cfg(tmp_path)
        sweep.run_inline(cfg, make_chains(["tab_01", "nlp_01"], ["base"], 2), lambda c, r: None,
                         on_skip=lambda ch: skipped.append(ch[0].task))
        assert skipped == ["tab_01"] and calls == ["nlp_01/base/r1", "nlp_01/base/r2"]
        assert not (layout.chain_dir("nlp_01", "base") / "claim.json").exists()  # released when done
    finally:
        other.kill()
        other.wait()
    # the holder died mid-chain: the next process takes the chain over
    calls.clear()
    sweep.run_inline(cfg, pending(layout, make_chains(["tab_01", "nlp_01"], ["base"], 2)), lambda c, r: None)
    assert calls == ["tab_01/base/r1", "tab_01/base/r2"]
    assert layout.claim("tab_01", "base") and layout.claim("tab_01", "base")  # this process's own claim holds


def test_a_claim_whose_pid_now_names_another_process_is_taken_over(tmp_path):
    """After a restart a dead holder's pid can belong to some other live process: the
    claim's recorded start (boot id + start tick) tells them apart."""
    import subprocess
    import sys

    from benchmarks.sweep_cells import _process_start
    layout = SweepLayout(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claim = layout.chain_dir("tab_01", "base") / "claim.json"
        claim.parent.mkdir(parents=True)
        claim.write_text(json.dumps({"pid": other.pid, "started": _process_start(other.pid)}))
        assert not layout.claim("tab_01", "base")  # its real holder is alive
        claim.write_text(json.dumps({"pid": other.pid, "started": "another-boot:123"}))
        assert layout.claim("tab_01", "base")  # the pid was reused: stale, taken over
        assert json.loads(claim.read_text())["started"] == _process_start(os.getpid())
    finally:
        other.kill()
        other.wait()


def test_cells_record_the_commit_that_ran_them(tmp_path):
    import subprocess

    code = sweep.code_version()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode:
        assert code == ""  # not a git checkout (a source tarball): said as unknown
    else:
        assert code.split("+")[0] == head.stdout.strip()
    assert sweep.code_version(tmp_path) == ""  # outside any checkout
    r = rec().model_copy(update={"code": "abc1234"})
    layout = SweepLayout(tmp_path / "sw")
    layout.save(r)
    assert layout.records()[0].code == "abc1234"
    write_report(layout, {"sweep": "sw"})
    assert "Code (commit per cell): abc1234." in (tmp_path / "sw" / "report.md").read_text()


def test_a_cell_that_raises_outside_its_cycle_leaves_an_error_record(tmp_path, monkeypatch):
    def boom(cfg, cell):
        raise RuntimeError("judge setup exploded")

    monkeypatch.setattr(sweep, "run_cell", boom)
    got = []
    sweep.run_inline(_cfg(tmp_path), make_chains(["tab_01"], ["base"], 2), lambda c, r: got.append(c.key))
    assert got == ["tab_01/base/r1"]  # the chain stopped at its failed cell
    err = json.loads((SweepLayout(tmp_path).cell_dir(Cell("tab_01", "base", 1)) / "error.json").read_text())
    assert err["error"] == "RuntimeError: judge setup exploded"


def test_report_says_an_embedded_judge_s_quality_is_no_evidence(tmp_path):
    from benchmarks.sweep_cells import judge_caveat
    assert judge_caveat(["anthropic:claude-sonnet"]) == []
    assert "not evidence" in judge_caveat(["embedded:smollm2", "openai:gpt"])[0]
    layout = SweepLayout(tmp_path)
    layout.save(rec("a", "base", 1).model_copy(update={"judge_model": "embedded:smollm2"}))
    md = write_report(layout, {"sweep": "t"}) and (tmp_path / "report.md").read_text()
    assert "scored by embedded:smollm2" in md and "quality is reported, not evidence" in md
