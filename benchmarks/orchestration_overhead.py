"""Orchestration overhead: framework time vs LLM time for one full research cycle.

    python -m benchmarks.orchestration_overhead                    # scripted, then embedded
    python -m benchmarks.orchestration_overhead --modes scripted --task tab_01
    python -m benchmarks.orchestration_overhead --modes embedded --set models.default=openai:gpt-4o-mini

Runs one cycle in-process (run_project(use_ray=False), variant "base": no SDPO round, so
training time does not blur the split) per mode: `scripted` (a zero-latency model that
answers '{}' to everything; the agents' deterministic fallbacks carry the cycle) and
`embedded` (the configured default, SmolLM2 through llama.cpp). Time is split by timing
wrappers put around the call sites for the duration of the run:
  llm        every generate() of every agent's model and every planner chat call
  model_load building the models (llama.cpp / transformers engines, the planner engine)
  embeddings the retrieval embedder (MiniLM by default: its lazy import/load and every
             embed() of literature search, novelty checks, skill/memory retrieval)
  experiment the sandboxed runs (sum of duration_s in experiment/runs.json)
  latex      every compile_pdf call (latexmk)
  framework  the rest: orchestration, stores, retrieval embeddings, literature search,
             file I/O, sandbox staging, agent logic (split into startup = before the
             first step, and in-cycle)
Target: framework < 2% of a cycle. Prints a table and ends with one JSON line.

`--ray` also runs each mode with Ray on (the orchestrator actor, the agents as actors,
the store owner actor; the Serve planner unless the planner is scripted) and reports,
beside the in-process split, Ray's own share: the wall of every agent call seen from the
orchestrator minus the time spent inside the agents (serialisation, scheduling, object
transfer, attribute look-ups), over the cycle's wall; Ray's start-up (cluster, actors,
Serve) is reported apart, as it is paid once per process, not per cycle.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from nanoresearch import artifacts as A
from nanoresearch import offline
from nanoresearch.llm.base import LLM

log = logging.getLogger(__name__)
CATEGORIES = ("llm", "model_load", "embeddings", "experiment", "latex", "framework_startup",
              "framework_cycle")


class Clock:
    """Seconds per category, plus the LLM seconds of each step (current step from events)."""

    def __init__(self) -> None:
        self.t = {c: 0.0 for c in ("llm", "model_load", "embeddings", "latex")}
        self.cpu = dict(self.t)  # this process's CPU seconds (all threads) in each category
        self.calls = 0
        self.step = "startup"
        self.first_step_at: float | None = None
        self.steps: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def add(self, cat: str, s: float, cpu: float = 0.0) -> None:
        with self._lock:
            self.t[cat] += s
            self.cpu[cat] += cpu
            if cat == "llm":
                self.calls += 1
                self.steps.setdefault(self.step, {"wall": 0.0, "llm": 0.0})["llm"] += s

    def on_event(self, kind: str, data: dict) -> None:
        if kind == "step_start":
            self.first_step_at = self.first_step_at or time.perf_counter()
            self.step = f"{data['phase']}/{data['step']}"
        elif kind == "step_done":
            self.steps.setdefault(self.step, {"wall": 0.0, "llm": 0.0})["wall"] += data["seconds"]


class TimedLLM(LLM):
    def __init__(self, inner: LLM, clock: Clock):
        self.inner, self.clock = inner, clock
        self.provider, self.model = inner.provider, inner.model

    def generate(self, messages, **kw):
        return _timed(self.inner.generate, self.clock, "llm")(messages, **kw)

    def generate_batch(self, batch, **kw):
        return _timed(self.inner.generate_batch, self.clock, "llm")(batch, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


_depth = threading.local()


def _timed(fn: Callable, clock: Clock, cat: str, wrap: Callable[[Any], Any] | None = None) -> Callable:
    """Time `fn` into `cat`; nested timed calls of the same category (the planner builder
    calling make_llm) count once, at the outermost level."""
    def inner(*a: Any, **kw: Any) -> Any:
        d = getattr(_depth, cat, 0)
        setattr(_depth, cat, d + 1)
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            out = fn(*a, **kw)
        finally:
            setattr(_depth, cat, d)
            if d == 0:
                clock.add(cat, time.perf_counter() - t0, time.process_time() - c0)
        return wrap(out) if wrap else out
    return inner


@contextlib.contextmanager
def instrumented(clock: Clock) -> Iterator[None]:
    """Put the timing wrappers in place (module attributes the composition root looks up
    at call time) and restore them afterwards."""
    import actors.writing_build as wb
    import nanoresearch.embeddings as emb
    import nanoresearch.llm.registry as reg
    import serve.planner_client as pc
    import nanoresearch_app.compose as compose

    def timed_chat(make: Callable) -> Callable:
        def build(*a: Any, **kw: Any) -> Callable:
            return _timed(make(*a, **kw), clock, "llm")
        return build

    patches = [(reg, "make_llm", _timed(reg.make_llm, clock, "model_load", lambda m: TimedLLM(m, clock))),
               # llm_chat's model comes from make_llm, already timed; the engine is not
               (pc, "engine_chat", timed_chat(pc.engine_chat)),
               (compose, "local_planner", _timed(compose.local_planner, clock, "model_load")),
               (wb, "compile_pdf", _timed(wb.compile_pdf, clock, "latex")),
               (emb.MiniLMEmbedder, "embed", _timed(emb.MiniLMEmbedder.embed, clock, "embeddings")),
               (emb.HashEmbedder, "embed", _timed(emb.HashEmbedder.embed, clock, "embeddings"))]
    saved = [(m, n, getattr(m, n)) for m, n, _ in patches]
    try:
        for m, n, f in patches:
            setattr(m, n, f)
        yield
    finally:
        for m, n, f in saved:
            setattr(m, n, f)


# ---------------------------------------------------------------------- one cycle
def run_ray_mode(mode: str, task: str, out: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """One cycle with Ray on; the split comes from the cycle's `ray_overhead` event."""
    from nanoresearch.types import ProjectState
    from nanoresearch_app.compose import VARIANTS, run_project

    settings = _mode_settings(mode, out / f"{mode}-ray", out, overrides)
    state = ProjectState(project_id=f"overhead-{mode}-ray", user_id="bench", topic=_task(task))
    got: dict[str, Any] = {}
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    final = run_project(settings, state, use_ray=True, variant=VARIANTS["base"],
                        on_event=lambda k, d: got.update(d) if k == "ray_overhead" else None)
    total = time.perf_counter() - t0
    if not got:
        raise RuntimeError("the cycle sent no ray_overhead event")
    row = {"mode": f"{mode}+ray", "status": final.status.value, "total_s": round(total, 2),
           "cycle_s": got["cycle_s"], "startup_s": round(total - got["cycle_s"], 2),
           "agent_calls": got["calls"], "agent_call_wall_s": got["wall_s"],
           "inside_agents_s": got["busy_s"], "ray_overhead_s": got["overhead_s"],
           "ray_overhead_pct": round(100 * got["overhead_s"] / max(got["cycle_s"], 1e-9), 2),
           "loadavg_start": round(load0, 1), "loadavg_end": round(os.getloadavg()[0], 1)}
    (out / f"overhead_{mode}_ray.json").write_text(json.dumps(row, indent=1))
    return row


def _task(task: str) -> Any:
    from benchmarks.sweep import load_task
    return load_task(task)


def _mode_settings(mode: str, home: Path, out: Path, overrides: dict[str, Any]) -> Any:
    from benchmarks.sweep import link_shared
    from nanoresearch.config import load_settings

    link_shared(home, load_settings().data_dir)
    over = {**overrides, "data_dir": str(home)}
    over.setdefault("execution", {}).setdefault("backend", "sandbox")
    if mode == "scripted":
        script = out / "scripted_responses.json"
        script.write_text(json.dumps(["{}"]))
        spec = f"scripted:{script.resolve()}"
        over["models"] = {"default": spec, "per_agent": {"planner": spec}}
    return load_settings(None, over)


def run_mode(mode: str, task: str, out: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.sweep import link_shared, load_task
    from nanoresearch.config import load_settings
    from nanoresearch.types import ProjectState
    from nanoresearch_app.compose import VARIANTS, run_project

    home = out / mode
    shared = load_settings().data_dir
    link_shared(home, shared)
    over = {**overrides, "data_dir": str(home)}
    over.setdefault("execution", {}).setdefault("backend", "sandbox")
    if mode == "scripted":
        script = out / "scripted_responses.json"
        script.write_text(json.dumps(["{}"]))
        spec = f"scripted:{script.resolve()}"
        over["models"] = {"default": spec, "per_agent": {"planner": spec}}
    settings = load_settings(None, over)
    state = ProjectState(project_id=f"overhead-{mode}", user_id="bench", topic=load_task(task))
    clock = Clock()
    load0 = os.getloadavg()[0]
    with instrumented(clock):
        t0, c0 = time.perf_counter(), time.process_time()
        final = run_project(settings, state, use_ray=False, on_event=clock.on_event,
                            variant=VARIANTS["base"])
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
    row = split(mode, settings, final, clock, total, t0)
    # CPU seconds do not stretch when other jobs share the cores, wall seconds do
    fw_cpu = cpu - sum(clock.cpu.values())
    row.update(cpu_s=round(cpu, 2), cpu_llm_s=round(clock.cpu["llm"], 2),
               cpu_model_load_s=round(clock.cpu["model_load"], 2),
               cpu_embeddings_s=round(clock.cpu["embeddings"], 2), framework_cpu_s=round(fw_cpu, 2),
               loadavg_start=round(load0, 1), loadavg_end=round(os.getloadavg()[0], 1))
    (out / f"overhead_{mode}.json").write_text(json.dumps(row, indent=1))
    return row


def split(mode: str, settings: Any, final: Any, clock: Clock, total: float, t0: float) -> dict[str, Any]:
    ws = settings.projects_dir / final.project_id
    rr = A.read(ws, A.RUNS)  # the registry's RunsRecord; None when missing or invalid (logged)
    runs = rr.runs if rr else []
    exp = sum(float(r.duration_s or 0) for r in runs)
    startup = (clock.first_step_at - t0) if clock.first_step_at else 0.0
    load_in_startup = min(clock.t["model_load"], startup)  # engines are built before step one
    fw_start = max(0.0, startup - load_in_startup)
    fw_cycle = (total - clock.t["llm"] - clock.t["model_load"] - clock.t["embeddings"] - exp
                - clock.t["latex"] - fw_start)
    secs = {"llm": clock.t["llm"], "model_load": clock.t["model_load"],
            "embeddings": clock.t["embeddings"], "experiment": exp,
            "latex": clock.t["latex"], "framework_startup": fw_start, "framework_cycle": fw_cycle}
    fw = fw_start + fw_cycle
    return {"mode": mode, "model": settings.models.default.split(":")[0] + ":" +
            Path(settings.models.default.split(":", 1)[1]).name, "status": final.status.value,
            "total_s": round(total, 2), "llm_calls": clock.calls, "runs": len(runs),
            "seconds": {k: round(v, 3) for k, v in secs.items()},
            "framework_s": round(fw, 3), "framework_pct": round(100 * fw / total, 2),
            "framework_cycle_pct": round(100 * fw_cycle / total, 2),
            "steps": {k: {kk: round(vv, 2) for kk, vv in v.items()} for k, v in clock.steps.items()}}


def table(rows: list[dict[str, Any]]) -> str:
    head = "| category | " + " | ".join(f"{r['mode']} s | {r['mode']} %" for r in rows) + " |"
    lines = [head, "|---|" + "---|---|" * len(rows)]
    for c in (*CATEGORIES, "total"):
        vals = []
        for r in rows:
            s = r["total_s"] if c == "total" else r["seconds"][c]
            vals.append(f"{s:.2f} | {100 * s / r['total_s']:.1f}")
        lines.append(f"| {c} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def ray_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| mode | cycle s | Ray start-up s | agent calls | call wall s | inside agents s | Ray s | Ray % |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['cycle_s']:.1f} | {r['startup_s']:.1f} | {r['agent_calls']} | "
                     f"{r['agent_call_wall_s']:.2f} | {r['inside_agents_s']:.2f} | "
                     f"{r['ray_overhead_s']:.2f} | {r['ray_overhead_pct']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from nanoresearch.config import parse_overrides

    ap = argparse.ArgumentParser(prog="python -m benchmarks.orchestration_overhead")
    ap.add_argument("--modes", default="scripted,embedded")
    ap.add_argument("--task", default="tab_01")
    ap.add_argument("--out", default=None, help="work dir (default: a new temp dir)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--ray", action="store_true", help="also run each mode with Ray on")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    offline.apply()
    out = Path(a.out or tempfile.mkdtemp(prefix="nr-overhead-")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows = [run_mode(m.strip(), a.task, out, parse_overrides(a.overrides)) for m in a.modes.split(",")]
    ray_rows = [run_ray_mode(m.strip(), a.task, out, parse_overrides(a.overrides))
                for m in a.modes.split(",")] if a.ray else []
    print(f"one cycle of task {a.task}, in-process, variant base; work dir {out}")
    print(table(rows))
    for r in rows:
        top = sorted(r["steps"].items(), key=lambda kv: -kv[1]["wall"])[:6]
        print(f"{r['mode']} slowest steps (wall s / LLM s): " +
              ", ".join(f"{k} {v['wall']:.1f}/{v['llm']:.1f}" for k, v in top))
        print(f"{r['mode']}: driver CPU {r['cpu_s']:.1f}s, of which LLM {r['cpu_llm_s']:.1f}s, model load "
              f"{r['cpu_model_load_s']:.1f}s, embeddings {r['cpu_embeddings_s']:.1f}s, framework {r['framework_cpu_s']:.1f}s; load average "
              f"{r['loadavg_start']} -> {r['loadavg_end']} on {os.cpu_count()} cores")
        print(f"{r['mode']} ({r['model']}): status {r['status']}, {r['llm_calls']} LLM calls, "
              f"{r['runs']} runs; framework {r['framework_s']:.2f}s = {r['framework_pct']:.2f}% "
              f"of the cycle (in-cycle part {r['framework_cycle_pct']:.2f}%)")
    if ray_rows:
        print(ray_table(ray_rows))
    meets = {r["mode"]: r["framework_pct"] < 2.0 for r in rows}
    meets.update({r["mode"]: r["ray_overhead_pct"] < 2.0 for r in ray_rows})
    print(json.dumps({"benchmark": "orchestration_overhead", "task": a.task, "target_pct": 2.0,
                      "rows": [{k: v for k, v in r.items() if k != "steps"} for r in rows],
                      "ray_rows": ray_rows, "meets_target": meets}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
