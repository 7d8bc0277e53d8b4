"""Multi-round evolution and ablation sweep: tasks x variants chains, R rounds each.

    python -m benchmarks.sweep --tasks nlp_01,tab_01 --rounds 2 --variants base,full
    python -m benchmarks.sweep --tasks tab_01 --rounds 1 --variants base --dry-scripted
    python -m benchmarks.sweep ... --out results/sweep-A --persona-mode deterministic --workers 2

Each (task, variant) chain runs its rounds one after the other with the same simulated
user (the persona bound to the task in personas.yaml), in its own data dir, so what a
round learns (skills, memories, the planner adapter) carries into the next round and no
two variants share state. Chains run in parallel as Ray tasks (benchmarks/ray_sweep.py,
num_cpus=1 each; `--no-ray` runs them here one by one, and several `--no-ray` processes
on the same --out, one per core, share the chains: each claims a chain before running it,
and takes over one whose process died); inside a task a cycle runs
in-process (run_project(use_ray=False)): nested Ray actors do not fit 2 cores. Its SDPO
rounds still go through the Ray Train job (training/ray_job.py) on the sweep's Ray, run
on the task's own thread so Ray lends the task's CPU to the Train worker while it waits;
`--no-ray` trains in-process. Each cell records which path trained each adapter
(`sdpo.trained_by`, read from the adapter's own record).
A finished cell is never rerun; an interrupted round resumes its project. A cell whose
cycle or judge raised, or whose SDPO variant published no adapter, is not done: its
record goes to error.json, the next run reruns it, and the exit code is 1. The report
(report.md, results.json, curve_*.png) goes to the out dir; the last stdout line is JSON.
`--dry-scripted` replaces every model by a scripted one ('{}' for every call: the agents'
deterministic fallbacks carry the cycle) to exercise the machinery fast; the experiments
still really run in the sandbox.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.personas import PERSONAS_FILE, DeterministicPersona, LLMPersona, Persona, load_personas
from benchmarks.sweep_cells import (
    Cell, CellRecord, SweepLayout, chain_stops, make_chains, pending, quality_of, write_report,
)
from nanoresearch import offline
from nanoresearch.artifacts import LEDGER, PROJECT, RUNS
from nanoresearch.config import Settings, load_settings, parse_overrides
from nanoresearch.errors import UserError
from nanoresearch.types import Phase, ProjectState, ResearchTopic
from training.trained_by import IN_PROCESS, RAY_TRAIN, trained_by

log = logging.getLogger(__name__)
TASKS_DIR = Path(__file__).with_name("tasks")
SCRIPTED_AGENTS = ("planner", "judge", "simulated_user")


@dataclass(frozen=True)
class SweepConfig:
    """Everything a cell needs, picklable for Ray tasks."""

    out_dir: str
    settings_json: str  # the base settings; data_dir is replaced per chain
    persona_mode: str = "llm"
    shared_dir: str = ""  # models/ and cache/ (converted weights, literature index) shared by chains
    sdpo_path: str = IN_PROCESS  # RAY_TRAIN when the chains are Ray tasks: rounds as Ray Train jobs
    code: str = ""  # the commit that runs the cells (code_version()), into every cell record

    def chain_settings(self, task: str, variant: str) -> Settings:
        s = Settings.model_validate_json(self.settings_json)
        home = SweepLayout(self.out_dir).home(task, variant)
        s.data_dir = home
        s.providers.embedded_threads = 1  # one CPU per Ray task
        link_shared(home, Path(self.shared_dir)) if self.shared_dir else None
        return s


def link_shared(home: Path, shared: Path) -> None:
    """Weights and the literature index are read-only and costly to rebuild: every chain
    links them instead of rebuilding (both builders are safe against concurrent writers)."""
    home.mkdir(parents=True, exist_ok=True)
    for name in ("models", "cache"):
        (shared / name).mkdir(parents=True, exist_ok=True)
        link = home / name
        if not link.exists() and not link.is_symlink():
            link.symlink_to((shared / name).resolve(), target_is_directory=True)


# ---------------------------------------------------------------------- tasks and users
def load_task(task: str) -> ResearchTopic:
    p = TASKS_DIR / f"{task}.json"
    if not p.exists():
        known = ", ".join(sorted(x.stem for x in TASKS_DIR.glob("*.json")))
        raise UserError(f"unknown task {task!r}; choose from {known}")
    return ResearchTopic.model_validate_json(p.read_text())


def persona_for(task: str) -> Persona:
    for p in load_personas().values():  # file order: the first persona bound to the task
        if task in p.tasks:
            return p
    raise UserError(f"no persona in {PERSONAS_FILE} lists task {task!r}; add it to one's tasks")


class SimulatedUser:
    """The persona's feedback, counting how often an LLM persona fell back to the
    deterministic one (the report labels deterministic feedback as such)."""

    def __init__(self, persona: Persona, mode: str, llm: Any = None):
        self.det = DeterministicPersona(persona)
        self.inner = LLMPersona(persona, llm) if mode == "llm" else self.det
        self.counts = {"answers": 0, "fallback": 0}

    @property
    def kind(self) -> str:
        if self.inner is self.det:
            return "deterministic"
        return f"llm ({self.counts['fallback']}/{self.counts['answers']} fell back)"

    def __call__(self, phase: Phase, summary: str) -> str:
        text = self.inner(phase, summary)
        self.counts["answers"] += 1
        if self.inner is not self.det and text == self.det(phase, summary):
            self.counts["fallback"] += 1
        return text


def ensure_profile(settings: Settings, persona: Persona, cell: Cell) -> str:
    """The chain's user: one id per (persona, task, variant), so that even on a shared Qdrant
    server (storage.backend=server) no chain sees another's user-scoped memories/skills."""
    from storage.service import open_store

    prof = persona.user_profile(f"persona-{persona.id}-{cell.task}-{cell.variant}")
    store = open_store(settings)
    try:
        if store.get_profile(prof.user_id) is None:
            store.save_profile(prof)
    finally:
        store.close()
    return prof.user_id


# ---------------------------------------------------------------------- one cell
def code_version(root: Path = Path(__file__).resolve().parents[1]) -> str:
    """The short commit of the checkout that runs the sweep, "+changes" when tracked files
    differ from it; "" outside a git checkout."""
    try:
        git = lambda *a: subprocess.run(["git", "-C", str(root), *a], capture_output=True,  # noqa: E731
                                         text=True, timeout=20)
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode:
            return ""
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
        return head.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return ""


def run_cell(cfg: SweepConfig, cell: Cell) -> CellRecord:
    """Run (or resume) one round of one chain, judge it and save its record."""
    from actors.feedback import CallbackFeedback
    from nanoresearch.llm.registry import llm_for_agent
    from nanoresearch_app.compose import VARIANTS, run_project

    layout = SweepLayout(cfg.out_dir)
    settings = cfg.chain_settings(cell.task, cell.variant)
    topic, persona = load_task(cell.task), persona_for(cell.task)
    user_id = ensure_profile(settings, persona, cell)
    ws = settings.projects_dir / cell.project_id
    resumed = (ws / PROJECT.path).exists()
    state = (ProjectState.model_validate_json((ws / PROJECT.path).read_text()) if resumed else
             ProjectState(project_id=cell.project_id, user_id=user_id, topic=topic))
    user = SimulatedUser(persona, cfg.persona_mode,
                         llm_for_agent("simulated_user", settings) if cfg.persona_mode == "llm" else None)
    t0, status, error = time.time(), "error", None
    adapters_before = published_adapters(settings, user_id)
    on_ray = cfg.sdpo_path == RAY_TRAIN
    if on_ray:
        # Ray lends a task's CPU only while the task's own thread blocks in ray.get
        # (measured on a 1-CPU Ray: a fit() from a background thread of a num_cpus=1 task
        # never got its worker, the worker group start timed out; from the task's thread it
        # trained), so the round runs in the cycle's thread, not in the background
        settings.serve.train_in_background = False
    try:
        final = run_project(settings, state, use_ray=False, train_on_ray=on_ray,
                            feedback=CallbackFeedback(user), variant=VARIANTS[cell.variant])
        status, error = final.status.value, final.error
    except Exception as e:  # recorded in error.json; the cell is not done and is rerun
        log.exception("%s: the cycle raised", cell.key)
        error = f"{type(e).__name__}: {e}"
    wall = time.time() - t0
    sdpo = sdpo_outcome(settings, user_id, VARIANTS[cell.variant].sdpo, user.counts, adapters_before,
                        cfg.sdpo_path)
    rec = CellRecord(task=cell.task, variant=cell.variant, round=cell.round,
                     project_id=cell.project_id, persona=persona.id, persona_kind=user.kind,
                     status=status, error=error, wall_s=round(wall, 2), resumed=resumed,
                     feedback=user.counts, sdpo=sdpo, code=cfg.code, **measure(ws))
    try:
        rec = judge_cell(settings, layout, cell, topic, ws, rec, persona.preferences)
    except Exception as e:  # noqa: BLE001 - a judge that cannot judge leaves the cell undone
        log.exception("%s: the judge raised", cell.key)
        rec = rec.model_copy(update={"judge_error": f"{type(e).__name__}: {e}"})
    if sdpo.get("failed") and status != "error":
        rec = rec.model_copy(update={"error": "; ".join(filter(None, [rec.error, sdpo["failed"]]))})
    if rec.errored:
        layout.save_error(rec)  # for diagnosis; cell.json (done) is not written
    else:
        layout.save(rec)
    return rec


def published_adapters(settings: Settings, user_id: str) -> int:
    versions = published_versions(settings, user_id)
    return -1 if versions is None else len(versions)


def published_versions(settings: Settings, user_id: str) -> list | None:
    """The user's published AdapterVersions, oldest first; None when unreadable."""
    from storage.adapters import AdapterRegistry
    try:
        return sorted((a for a in AdapterRegistry(settings.adapters_dir).list(user_id)
                       if a.status == "published"), key=lambda a: a.version)
    except Exception as e:  # noqa: BLE001 - an unreadable registry is reported, not fatal
        log.warning("adapter registry of %s unreadable: %s", user_id, e)
        return None


def sdpo_outcome(settings: Settings, user_id: str, enabled: bool, counts: dict[str, int],
                 before: int, path: str = IN_PROCESS) -> dict[str, Any]:
    """Did the SDPO variant publish an adapter for the feedback it got, and through which
    path (`trained_by`: one entry per adapter this round published, from its record)? A
    variant that trains, was given feedback and published nothing, or trained on another
    path than the sweep's (`path`), failed (its cell is not done)."""
    versions = published_versions(settings, user_id)
    after = -1 if versions is None else len(versions)
    new = (versions or [])[max(before, 0):]
    out: dict[str, Any] = {"enabled": enabled, "feedback": counts.get("answers", 0),
                           "adapters_before": before, "adapters_after": after, "path": path,
                           "trained_by": [trained_by(a.metrics) for a in new]}
    if enabled and out["feedback"] and after <= before:
        out["failed"] = f"SDPO published no adapter after {out['feedback']} feedback answer(s)"
    elif any(t != path for t in out["trained_by"]):
        out["failed"] = f"SDPO trained by {out['trained_by']}, not by the sweep's path {path}"
    return out


def measure(ws: Path) -> dict[str, Any]:
    """Tokens, cost and LLM time from the project's ledger; debug iterations from runs.json
    (attempts = debug iterations + 1)."""
    from nanoresearch.llm.ledger import Ledger

    led = Ledger(path=ws / LEDGER.path)
    summ = led.summary()
    runs_p = ws / RUNS.path
    runs = json.loads(runs_p.read_text()).get("runs", []) if runs_p.exists() else []
    return {"tokens": int(summ["tokens"]), "cost_usd": float(summ["cost_usd"]),
            "llm_calls": int(summ["calls"]),
            "llm_latency_s": round(sum(e.latency_s or 0.0 for e in led.entries()), 3),
            "debug_iterations": max(0, len(runs) - 1)}


def judge_cell(settings: Settings, layout: SweepLayout, cell: Cell, topic: ResearchTopic,
               ws: Path, rec: CellRecord, preferences: list[str] = ()) -> CellRecord:
    from benchmarks.judge import judge_project
    from nanoresearch.llm.ledger import Ledger
    from nanoresearch.llm.registry import llm_for_agent

    # the judge's own ledger: its tokens are the benchmark's cost, not the system's
    led = Ledger(settings.prices, None, layout.cell_dir(cell) / "judge_ledger.jsonl")
    j = judge_project(ws, topic, llm_for_agent("judge", settings, led), list(preferences)).model_dump()
    return rec.model_copy(update={"judgement": j, "quality": quality_of(j),
                                  "executability": float(j["executability"]),
                                  "alignment": j["alignment"],
                                  "judge_model": j["judge_model"],
                                  "judge_failures": list(j["rubric_failures"]),
                                  "judge_tokens": int(led.summary()["tokens"])})


# ---------------------------------------------------------------------- the sweep
def run_inline(cfg: SweepConfig, chains: list[list[Cell]], on_result, on_start=None, on_skip=None) -> None:
    """Chains one after the other in this process (`--no-ray`). Each chain is claimed
    first, so several such processes on one out dir (one per core) share the chains: a
    chain another live process holds is skipped; a failed cell stops its chain only."""
    layout = SweepLayout(cfg.out_dir)
    for chain in chains:
        task, variant = chain[0].task, chain[0].variant
        if not layout.claim(task, variant):
            on_skip(chain) if on_skip else None
            continue
        try:
            for cell in chain:
                if layout.is_done(cell):  # another process finished it since this one listed it
                    continue
                on_start(cell) if on_start else None
                try:
                    result: Any = run_cell(cfg, cell)
                except Exception as e:  # noqa: BLE001 - this chain stops, the others go on
                    log.exception("%s failed", cell.key)
                    result = e  # said on stderr (FAILED) and in the cell's error.json; exit code 1
                    layout.save_error(CellRecord(task=task, variant=variant, round=cell.round,
                                                 project_id=cell.project_id, persona="", persona_kind="",
                                                 status="error", error=f"{type(e).__name__}: {e}"))
                on_result(cell, result)
                if chain_stops(result):
                    break
        finally:
            layout.release(task, variant)


def base_settings(args: argparse.Namespace, out: Path) -> Settings:
    over = parse_overrides(args.overrides)
    over.setdefault("execution", {}).setdefault("backend", "sandbox")
    if args.dry_scripted:
        script = out / "scripted_responses.json"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(json.dumps(["{}"]))
        spec = f"scripted:{script.resolve()}"
        over.setdefault("models", {})["default"] = spec
        over["models"]["per_agent"] = {a: spec for a in SCRIPTED_AGENTS}
        over.setdefault("storage", {}).setdefault("embedder", "hash")
    return load_settings(args.config, over)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", required=True, help="comma-separated task ids (benchmarks/tasks/*.json) or 'all'")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", default="base,full", help="comma-separated: base,memory,skills,sdpo,full")
    ap.add_argument("--out", default=None, help="results dir (default results/sweep-<date>)")
    ap.add_argument("--persona-mode", choices=("deterministic", "llm"), default="llm")
    ap.add_argument("--workers", type=int, default=0, help="chains at once (default: min(chains, CPUs))")
    ap.add_argument("--no-ray", action="store_true", help="run chains one by one in this process (start one per core on the same --out: "
                         "they share the chains)")
    ap.add_argument("--dry-scripted", action="store_true", help="scripted models: test the machinery fast")
    ap.add_argument("--report-only", action="store_true",
                    help="write the report from the cells finished so far; run nothing")
    ap.add_argument("--config", default=None)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    return ap.parse_args(argv)


def resolve(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    from nanoresearch_app.compose import VARIANTS

    tasks = sorted(p.stem for p in TASKS_DIR.glob("*.json")) if args.tasks == "all" else \
        [t.strip() for t in args.tasks.split(",") if t.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise UserError(f"unknown variant(s) {bad}; choose from {', '.join(VARIANTS)}")
    for t in tasks:
        load_task(t), persona_for(t)
    return tasks, variants


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    offline.apply()
    args = parse_args(argv)
    tasks, variants = resolve(args)
    out = Path(args.out or f"results/sweep-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    base = base_settings(args, out)
    mode = "deterministic" if args.dry_scripted else args.persona_mode
    cfg = SweepConfig(str(out), base.model_dump_json(), mode, str(base.data_dir),
                      IN_PROCESS if args.no_ray else RAY_TRAIN, code_version())
    layout = SweepLayout(out)
    chains = make_chains(tasks, variants, args.rounds)
    todo = pending(layout, chains)
    total, n_todo = sum(map(len, chains)), sum(map(len, todo))
    n_done = total - n_todo
    if args.report_only:
        todo, n_todo = [], 0  # report what is finished, run nothing
    workers = args.workers or max(1, min(len(todo), os.cpu_count() or 1))
    progress = Progress(n_todo, n_done)
    t0 = time.time()
    if todo and args.no_ray:
        run_inline(cfg, todo, progress.done, progress.started, progress.skipped)
    elif todo:
        from benchmarks.ray_sweep import run_chains_ray
        run_chains_ray(cfg, todo, workers, progress.done, progress.started)
    meta = {"sweep": out.name, "tasks": tasks, "variants": variants, "rounds": args.rounds,
            "persona_mode": mode, "dry_scripted": args.dry_scripted, "workers": workers,
            "models_default": base.models.default, "cells_total": total, "cells_run": n_todo,
            "wall_s": round(time.time() - t0, 1)}
    if args.report_only:  # how the cells ran is in their records, not in this command's flags
        meta = {k: v for k, v in meta.items() if k not in ("persona_mode", "dry_scripted", "workers")}
        meta["report_only"] = True
    rep = write_report(layout, meta)
    print(rep["table"])
    print(rep["note"])
    print(json.dumps(closing_line(meta, rep)))
    # a cell that errored and was not rerun since is not done, in a report-only run too
    return 0 if progress.failed == 0 and not rep["errored_cells"] else 1


def closing_line(meta: dict[str, Any], rep: dict[str, Any]) -> dict[str, Any]:
    per = rep["aggregate"]["per_variant"]
    pick = ("alignment", "quality", "executability", "effectiveness", "tokens", "debug_iterations",
            "wall_s")
    return {**meta, "persona_kinds": rep["aggregate"]["persona_kinds"],
            "cells_done": len(rep["records"]),
            "variants_mean": {v: {m: (s[m]["mean"] if s[m] else None) for m in pick} for v, s in per.items()},
            "alignment_rise": {v: s["rise"] for v, s in rep["learning"]["per_variant"].items()},
            "learning_verdict": rep["learning"]["verdict"],
            "files": rep["files"]}


class Progress:
    """Cell progress on stderr (stdout keeps the table and the closing JSON line)."""

    def __init__(self, todo: int, skipped: int):
        self.todo, self.n, self.failed, self.t0 = todo, 0, 0, time.time()
        if skipped:
            self._say(f"{skipped} cell(s) already done, skipped")

    def _say(self, msg: str) -> None:
        print(f"[sweep {time.time() - self.t0:7.0f}s] {msg}", file=sys.stderr, flush=True)

    def started(self, cell: Cell) -> None:
        self._say(f"start {cell.key}")

    def skipped(self, chain: list[Cell]) -> None:
        self.todo -= len(chain)
        self._say(f"{chain[0].task}/{chain[0].variant}: another process runs this chain, skipped")

    def done(self, cell: Cell, result: Any) -> None:
        self.n += 1
        if isinstance(result, BaseException) or result.errored:
            self.failed += 1
            why = result if isinstance(result, BaseException) else \
                (result.judge_error or result.error)
            self._say(f"[{self.n}/{self.todo}] FAILED {cell.key}: {why}")
            return
        q = "-" if result.quality is None else f"{result.quality:.2f}"
        a = "-" if result.alignment is None else f"{result.alignment:.2f}"
        self._say(f"[{self.n}/{self.todo}] done {cell.key}: status={result.status} "
                  f"alignment={a} quality={q} e2e={result.executability:.0f} "
                  f"tokens={result.tokens} debug={result.debug_iterations} {result.wall_s:.0f}s")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
