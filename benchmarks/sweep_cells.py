"""Sweep bookkeeping without Ray: cells, their records on disk, chain scheduling,
bootstrap statistics and the report (markdown, JSON, PNG curves).

A sweep is tasks x variants *chains*; a chain runs rounds 1..R of one task for one
variant with the same simulated user, so what a round learns (skills, memories, the
planner adapter) is what the next round starts from. Layout under the out dir:

    <out>/<variant>/<task>/home/               the chain's private data dir
    <out>/<variant>/<task>/round_<r>/cell.json  the finished cell (judgement + measures)
    <out>/<variant>/<task>/claim.json          the process running the chain (`--no-ray`)

`cell.json` is written last and atomically, so its presence marks a cell done: a rerun
skips it, and an unfinished round resumes its project (same project id) where it stopped.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from pydantic import BaseModel

from benchmarks.sweep_stats import bootstrap_ci, learning_markdown, learning_summary, per_task_markdown
from nanoresearch.workspace import atomic_write_text

log = logging.getLogger(__name__)
QUALITY_AXES = ("compliance", "innovation", "expression")
METRICS = ("alignment", "quality", "compliance", "executability", "effectiveness", "innovation",
           "expression", "tokens", "cost_usd", "debug_iterations", "wall_s")
CURVES = ("alignment", "quality", "executability", "tokens", "debug_iterations")


@dataclass(frozen=True)
class Cell:
    task: str
    variant: str
    round: int

    @property
    def key(self) -> str:
        return f"{self.task}/{self.variant}/r{self.round}"

    @property
    def project_id(self) -> str:
        # deterministic: an interrupted round finds its own project again and resumes it
        return f"sw-{self.task}-{self.variant}-r{self.round}"


class CellRecord(BaseModel):
    """One finished cell: what the judge said and what the cycle cost."""

    task: str
    variant: str
    round: int
    project_id: str
    persona: str
    persona_kind: str  # "deterministic" or "llm" (with how many answers fell back)
    status: str  # the project's final status, or "error" if the cycle raised
    error: str | None = None
    judgement: dict[str, Any] = {}
    quality: float | None = None
    executability: float = 0.0  # E2E: a successful run with metrics AND a PDF
    tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0
    llm_latency_s: float = 0.0
    judge_tokens: int = 0
    debug_iterations: int = 0
    wall_s: float = 0.0
    resumed: bool = False
    feedback: dict[str, int] = {}
    alignment: float | None = None  # share of the persona's checkable preferences met
    judge_model: str = ""
    judge_failures: list[str] = []  # every failed rubric call (the axis is then None)
    judge_error: str | None = None  # the judge itself raised: the cell is not done
    sdpo: dict[str, Any] = {}  # enabled, feedback, adapters before/after, failed
    code: str = ""  # the commit that ran the cell ("+changes": with uncommitted edits; "": unknown)

    @property
    def errored(self) -> bool:
        return self.status == "error" or self.judge_error is not None or bool(self.sdpo.get("failed"))

    def metric(self, name: str) -> float | None:
        if name in ("compliance", "effectiveness", "innovation", "expression"):
            v = self.judgement.get(name)
            return None if v is None else float(v)
        v = getattr(self, name)
        return None if v is None else float(v)


def quality_of(judgement: dict[str, Any]) -> float | None:
    """Mean of the 1-10 axes the judge could score (a failed rubric call is None and left
    out, never a 0); None when none could. E2E and effectiveness are reported on their own."""
    vals = [float(judgement[a]) for a in QUALITY_AXES if judgement.get(a) is not None]
    return float(np.mean(vals)) if vals else None


# ---------------------------------------------------------------------- layout
class SweepLayout:
    def __init__(self, out_dir: str | Path):
        self.root = Path(out_dir)

    def chain_dir(self, task: str, variant: str) -> Path:
        return self.root / variant / task

    def home(self, task: str, variant: str) -> Path:
        return self.chain_dir(task, variant) / "home"

    def cell_dir(self, cell: Cell) -> Path:
        return self.chain_dir(cell.task, cell.variant) / f"round_{cell.round}"

    def record_path(self, cell: Cell) -> Path:
        return self.cell_dir(cell) / "cell.json"

    def is_done(self, cell: Cell) -> bool:
        return self.record_path(cell).exists()

    def save(self, rec: CellRecord) -> Path:
        path = self.record_path(Cell(rec.task, rec.variant, rec.round))
        atomic_write_text(path, rec.model_dump_json(indent=2))
        return path

    def save_error(self, rec: CellRecord) -> Path:
        """An errored cell's record, kept for diagnosis; it does not mark the cell done."""
        path = self.cell_dir(Cell(rec.task, rec.variant, rec.round)) / "error.json"
        atomic_write_text(path, rec.model_dump_json(indent=2))
        return path

    def claim(self, task: str, variant: str) -> bool:
        """Claim a chain for this process (several `--no-ray` processes share one out dir:
        each runs the chains it claims). A claim held by a live process is refused; one
        left by a process that died is taken over (its round resumes)."""
        path = self.chain_dir(task, variant) / "claim.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    held = json.loads(path.read_text())
                    pid = int(held["pid"])
                except (OSError, ValueError, KeyError, TypeError):
                    held, pid = {}, 0  # half-written by a process that died: stale
                if pid == os.getpid() or (pid and _alive(pid, held.get("started"))):
                    return pid == os.getpid()
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "since": time.time(),
                           "started": _process_start(os.getpid())}, f)
            return True
        return False

    def release(self, task: str, variant: str) -> None:
        path = self.chain_dir(task, variant) / "claim.json"
        try:
            if int(json.loads(path.read_text())["pid"]) == os.getpid():
                path.unlink()
        except (OSError, ValueError, KeyError, TypeError):
            pass

    def load(self, cell: Cell) -> CellRecord | None:
        p = self.record_path(cell)
        return CellRecord.model_validate_json(p.read_text()) if p.exists() else None

    def records(self) -> list[CellRecord]:
        out = [CellRecord.model_validate_json(p.read_text())
               for p in sorted(self.root.glob("*/*/round_*/cell.json"))]
        return sorted(out, key=lambda r: (r.variant, r.task, r.round))


def _process_start(pid: int) -> str | None:
    """Boot id + the process's start tick: a pid that a later process (or a rebooted
    machine) reuses has another one, so its claim is not mistaken for a live holder."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
        return f"{boot}:{stat.rsplit(')', 1)[1].split()[19]}"  # field 22, after the comm
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None = None) -> bool:
    if started and _process_start(pid) not in (None, started):
        return False  # the pid now names another process: the holder is gone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def make_chains(tasks: Iterable[str], variants: Iterable[str], rounds: int) -> list[list[Cell]]:
    if rounds < 1:
        raise ValueError(f"--rounds must be >= 1 (got {rounds})")
    return [[Cell(t, v, r) for r in range(1, rounds + 1)] for v in variants for t in tasks]


def pending(layout: SweepLayout, chains: list[list[Cell]]) -> list[list[Cell]]:
    """The unfinished rest of every chain (a done cell is never rerun); empty chains dropped.
    Rounds stay in order: a round after an unfinished one is pending too."""
    out = []
    for chain in chains:
        rest = [c for c in chain if not layout.is_done(c)]
        if rest:
            out.append(rest)
    return out


# ---------------------------------------------------------------------- scheduling
class ChainScheduler:
    """Hands out cells so that at most `workers` run at once and a chain's rounds run one
    after the other. `submit(cell)` starts one (returns a handle), `wait(handles)` blocks
    until one finishes and returns (handle, result). Ray and in-process runs share this."""

    def __init__(self, chains: list[list[Cell]], workers: int):
        if workers < 1:
            raise ValueError(f"--workers must be >= 1 (got {workers})")
        self.queues = [list(c) for c in chains if c]
        self.workers = workers

    def run(self, submit: Callable[[Cell], Any], wait: Callable[[list], tuple[Any, Any]],
            on_result: Callable[[Cell, Any], None]) -> None:
        idle = list(range(len(self.queues)))  # chains with no cell in flight
        flight: dict[Any, tuple[int, Cell]] = {}
        while idle or flight:
            while idle and len(flight) < self.workers:
                i = idle.pop(0)
                cell = self.queues[i].pop(0)
                flight[submit(cell)] = (i, cell)
            handle, result = wait(list(flight))
            i, cell = flight.pop(handle)
            on_result(cell, result)
            if self.queues[i] and not chain_stops(result):
                idle.append(i)
            elif self.queues[i]:
                log.error("%s failed; later rounds of this chain are left for a rerun", cell.key)


def chain_stops(result: Any) -> bool:
    return isinstance(result, BaseException) or bool(getattr(result, "errored", False))


# ---------------------------------------------------------------------- statistics
def _summ(recs: list[CellRecord], seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {"n": len(recs)}
    for m in METRICS:
        ci = bootstrap_ci([r.metric(m) for r in recs], seed=seed)
        out[m] = None if ci is None else {"mean": ci[0], "lo": ci[1], "hi": ci[2]}
    return out


def aggregate(records: list[CellRecord], seed: int = 0) -> dict[str, Any]:
    """Per variant (all rounds) and per (variant, round): means with bootstrap 95% CIs."""
    variants = sorted({r.variant for r in records})
    rounds = sorted({r.round for r in records})
    per_variant = {v: _summ([r for r in records if r.variant == v], seed) for v in variants}
    per_round = {v: {str(k): _summ([r for r in records if r.variant == v and r.round == k], seed)
                     for k in rounds if any(r.variant == v and r.round == k for r in records)}
                 for v in variants}
    return {"per_variant": per_variant, "per_round": per_round,
            "persona_kinds": sorted({r.persona_kind.split(" ")[0] for r in records})}


# ---------------------------------------------------------------------- report
def persona_note(records: list[CellRecord]) -> str:
    kinds = {r.persona_kind.split(" ")[0] for r in records}
    if kinds == {"llm"}:
        fb = sum(r.feedback.get("fallback", 0) for r in records)
        return ("Simulated users: LLM personas" +
                (f" ({fb} answers fell back to the deterministic persona)." if fb else "."))
    return ("Simulated users: DETERMINISTIC personas (feedback derived from the persona's "
            "explicit preferences, not an LLM)" + (" in some cells." if "llm" in kinds else "."))


def _fmt(s: dict | None, digits: int = 2) -> str:
    if s is None:
        return "-"
    if s["lo"] == s["hi"]:
        return f"{s['mean']:.{digits}f}"
    return f"{s['mean']:.{digits}f} [{s['lo']:.{digits}f}, {s['hi']:.{digits}f}]"


TABLE_COLS = (("alignment", 2), ("quality", 2), ("executability", 2), ("effectiveness", 3), ("compliance", 2),
              ("innovation", 2), ("expression", 2), ("tokens", 0), ("cost_usd", 4),
              ("debug_iterations", 2), ("wall_s", 0))


def markdown_table(agg: dict[str, Any]) -> str:
    head = "| variant | round | n | " + " | ".join(c for c, _ in TABLE_COLS) + " |"
    lines = [head, "|" + "---|" * (3 + len(TABLE_COLS))]
    for v, rounds in agg["per_round"].items():
        rows = list(rounds.items()) + [("all", agg["per_variant"][v])]
        for rnd, s in rows:
            cells = [_fmt(s[c], d) for c, d in TABLE_COLS]
            lines.append(f"| {v} | {rnd} | {s['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curves(agg: dict[str, Any], out_dir: Path, title_note: str) -> list[Path]:
    """One PNG per curve: the per-round mean with its bootstrap CI, one line per variant."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for metric in CURVES:
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for v, rounds in agg["per_round"].items():
            pts = [(int(k), s[metric]) for k, s in rounds.items() if s[metric] is not None]
            if not pts:
                continue
            x = [k for k, _ in pts]
            y = np.array([s["mean"] for _, s in pts])
            err = np.array([[s["mean"] - s["lo"] for _, s in pts], [s["hi"] - s["mean"] for _, s in pts]])
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=v)
        ax.set_xlabel("round")
        ax.set_ylabel(metric.replace("_", " "))
        ax.set_title(f"{metric.replace('_', ' ')} per round", fontsize=10)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=8)
        fig.text(0.01, 0.01, title_note, fontsize=6)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        p = out_dir / f"curve_{metric}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


def judge_caveat(judges: list[str]) -> list[str]:
    """A rubric scored by the embedded model is said to be no measurement: a 135M model
    cannot read a paper critically, so quality's LLM axes are reported, not evidence."""
    small = [j for j in judges if j.startswith("embedded:")]
    if not small:
        return []
    return [f"**The rubric axes (innovation, expression, the LLM half of compliance) were scored by "
            f"{', '.join(small)}, a small embedded model that cannot judge research writing: "
            "quality is reported, not evidence. Alignment, E2E, tokens and debug iterations are "
            "measured by rule from the runs, metrics and paper text; a strong judge "
            "(`--set models.per_agent.judge=<model>`) gives a quality that means something.**", ""]


def write_report(layout: SweepLayout, meta: dict[str, Any]) -> dict[str, Any]:
    """Aggregate every finished cell under the out dir into report.md, results.json and
    the curve PNGs; returns the summary (also the closing JSON line's content)."""
    records = layout.records()
    if not records:
        raise ValueError(f"no finished cells under {layout.root}; nothing to report")
    agg = aggregate(records)
    learning = learning_summary(records)
    note = persona_note(records)
    table = markdown_table(agg)
    pngs = plot_curves(agg, layout.root, note)
    errored = sorted(str(p.relative_to(layout.root)) for p in layout.root.glob("*/*/round_*/error.json")
                     if not (p.parent / "cell.json").exists())
    judges = sorted({r.judge_model for r in records if r.judge_model})
    n_fail = sum(len(r.judge_failures) for r in records)
    codes = sorted({r.code or "unrecorded" for r in records})
    md = [f"# Sweep {layout.root.name}", "", f"**{note}**", "",
          f"Code (commit per cell): {', '.join(codes)}.", "",
          f"Judge model(s): {', '.join(judges) or 'none'}; failed rubric calls: {n_fail} "
          "(the axis is left out, never scored 0); cells not done (error.json): "
          f"{len(errored)}{': ' + ', '.join(errored) if errored else ''}.", "",
          *judge_caveat(judges),
          "alignment = share of the persona's checkable preferences met in the runs, metrics "
          "and paper text (0-1); quality = mean of the 1-10 axes the judge could score "
          "(compliance, innovation, expression); executability = E2E (a compiled PDF and every "
          "planned run finished); "
          "cells: mean [95% bootstrap CI].", "", table, "",
          learning_markdown(learning), "", per_task_markdown(records), "",
          *[f"![{p.stem}]({p.name})" for p in pngs], "",
          "```json", json.dumps(meta, indent=1, default=str), "```", ""]
    atomic_write_text(layout.root / "report.md", "\n".join(md))
    full = {"meta": meta, "persona_note": note, "aggregate": agg, "learning": learning,
            "errored_cells": errored,
            "cells": [r.model_dump() for r in records]}
    atomic_write_text(layout.root / "results.json", json.dumps(full, indent=1, default=str))
    return {"table": table, "note": note, "aggregate": agg, "learning": learning, "records": records,
            "errored_cells": errored,
            "files": [str(layout.root / "report.md"), str(layout.root / "results.json"),
                      *map(str, pngs)]}
