"""The CLI's commands. Each takes the parsed args and returns an exit code."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.logging import RichHandler
from rich.table import Table

from nanoresearch import artifacts as A
from nanoresearch.config import Settings, load_settings, parse_overrides
from nanoresearch.errors import UserError
from nanoresearch.types import Feedback, Phase, ProjectState, ResearchTopic, new_id
from nanoresearch.workspace import Workspace

console = Console(stderr=False)
log = logging.getLogger("nanoresearch.cli")

DOMAIN_WORDS = {
    "nlp": ["text", "language", "sentiment", "review", "tweet", "token", "nlp", "translation"],
    "cv": ["image", "vision", "pixel", "mnist", "convolution", "cnn", "visual"],
    "multimodal": ["multimodal", "image-text", "caption", "emoji", "cross-modal", "vision-language"],
    "tabular": ["tabular", "churn", "credit", "default", "feature", "gradient boosting", "tree"],
    "timeseries": ["time series", "forecast", "temporal", "sunspot", "seasonal", "co2", "arima"],
    "graph": ["graph", "node", "network", "community", "gnn", "edge", "karate"],
    "audio": ["audio", "speech", "sound", "spoken", "acoustic", "speaker", "mfcc"],
}


def setup_logging(level: int) -> None:
    logging.basicConfig(level=level, format="%(message)s", datefmt="%X",
                        handlers=[RichHandler(console=Console(stderr=True), show_path=False)])


def settings_from(args: Any) -> Settings:
    return load_settings(getattr(args, "config", None), parse_overrides(getattr(args, "overrides", [])))


def guess_domain(text: str) -> str:
    t = text.lower()
    scores = {d: sum(w in t for w in ws) for d, ws in DOMAIN_WORDS.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] > 0 else "tabular"


def topic_from(args: Any) -> ResearchTopic:
    if args.task:
        p = Path(args.task)
        if not p.exists():
            raise UserError(f"task file {p} does not exist (see benchmarks/tasks/ for examples)")
        try:
            return ResearchTopic.model_validate_json(p.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as e:
            raise UserError(f"task file {p} is not UTF-8 text (byte {e.start}): save it as "
                            "UTF-8 JSON") from None
        except ValidationError as e:
            raise UserError(f"task file {p} does not match the task schema (question_id, domain, "
                            f"difficulty, background, problem_statement, baselines, datasets, "
                            f"user_requirements, extra_context):\n{e}") from None
    text = (args.topic or "").strip()
    if len(text) < 8:
        raise UserError("--topic is too short: state the research question in a sentence")
    return ResearchTopic(problem_statement=text, domain=args.domain or guess_domain(text),
                         background=text)


# ---------------------------------------------------------------------- commands
def cmd_doctor(args: Any) -> int:
    from nanoresearch.doctor import run_checks

    checks = run_checks(settings_from(args))
    t = Table(title="nanoresearch doctor")
    for col in ("", "component", "where", "to install"):
        t.add_column(col)
    for c in checks:
        mark = "[green]ok[/]" if c.ok else ("[red]missing[/]" if c.required else "[yellow]optional[/]")
        t.add_row(mark, *(escape(x) for x in (c.name, c.detail, c.fix)))  # '[gpu]' is not markup
    console.print(t)
    missing = [c for c in checks if c.required and not c.ok]
    ok = sum(c.ok for c in checks)
    console.print(f"{ok}/{len(checks)} available" +
                  (f"; required missing: {', '.join(c.name for c in missing)}" if missing else ""))
    return 1 if missing else 0


def _print_event(kind: str, data: dict) -> None:
    """Each progress event as a line (nanoresearch_cli/events_view.py renders the types)."""
    from nanoresearch_cli.events_view import printer
    printer(console)(kind, data)


def cmd_run(args: Any, phases: tuple[Phase, ...] | None = None) -> int:
    settings = settings_from(args)
    if args.feedback:
        settings.feedback = args.feedback
    topic = topic_from(args)
    project_id = args.project or new_id("p-")
    state = ProjectState(project_id=project_id, user_id=args.user, topic=topic)
    console.print(f"project [bold]{escape(project_id)}[/] ({escape(topic.domain)}): "
                  f"{escape(topic.problem_statement[:120])}")
    return _launch(settings, state, args, phases)


def _launch(settings: Settings, state: ProjectState, args: Any,
            phases: tuple[Phase, ...] | None = None) -> int:
    """Run in the orchestrator actor (or in-process with --no-ray) and stream its events;
    --detach (or a `ray job submit` job) leaves the actor running on its own."""
    from nanoresearch_app import compose

    detach = getattr(args, "detach", False)
    if detach and args.no_ray:
        raise UserError("--detach needs Ray (the orchestrator actor); drop --no-ray")
    t0 = time.time()
    final = compose.run_project(settings, state, phases=phases, use_ray=not args.no_ray,
                                on_event=_print_event, detached=detach or _in_ray_job(),
                                wait=not detach)
    if detach:
        console.print(f"started; follow with: nanoresearch attach {state.project_id}")
        return 0
    return _report(settings, final, time.time() - t0)


def _in_ray_job() -> bool:
    # a `ray job submit` driver: the orchestrator must outlive the job's driver process
    import os
    return bool(os.environ.get("RAY_JOB_SUBMISSION_ID") or os.environ.get("RAY_JOB_ID"))


def cmd_attach(args: Any) -> int:
    from nanoresearch_app.ray_launch import attach

    settings = settings_from(args)
    t0 = time.time()
    return _report(settings, attach(settings, args.project, _print_event), time.time() - t0)


def cmd_ideate(args: Any) -> int:
    return cmd_run(args, phases=(Phase.IDEATION,))


def cmd_resume(args: Any) -> int:
    settings = settings_from(args)
    if args.feedback:
        settings.feedback = args.feedback
    ws = _workspace(settings, args.project)
    state = ws.read_model(A.PROJECT.path, ProjectState)
    return _launch(settings, state, args)


def _report(settings: Settings, st: ProjectState, seconds: float) -> int:
    ws = Workspace(settings.projects_dir / st.project_id)
    pdf = ws.path(A.PAPER_PDF.path)
    console.rule("result")
    console.print(f"status: [bold]{st.status.value}[/] after {seconds:.0f} s; workspace {ws.root}")
    if pdf.exists():
        console.print(f"paper: {pdf}")
    if st.error:
        console.print(f"[red]{escape(st.error)}[/]\ncontinue with: nanoresearch resume {st.project_id}")
    return 0 if st.status.value == "done" else 1


def _workspace(settings: Settings, project_id: str) -> Workspace:
    root = settings.projects_dir / project_id
    if not (root / A.PROJECT.path).exists():
        raise UserError(f"no project {project_id!r} under {settings.projects_dir}; "
                        "`nanoresearch status` lists projects")
    return Workspace(root)


def cmd_status(args: Any) -> int:
    settings = settings_from(args)
    if args.project:
        ws = _workspace(settings, args.project)
        st = ws.read_model(A.PROJECT.path, ProjectState)
        console.print(f"[bold]{escape(st.project_id)}[/] {st.status.value} user={escape(st.user_id)} "
                      f"phase={st.phase.value if st.phase else '-'}")
        if st.waiting_feedback_for is not None:  # the stage gate of `feedback: http`
            left = f", {st.feedback_deadline - time.time():.0f} s left" if st.feedback_deadline else ""
            console.print(f"  waiting for feedback on {st.waiting_feedback_for.value}{left}: "
                          f"nanoresearch feedback {st.project_id} --phase "
                          f"{st.waiting_feedback_for.value} --text '...'", markup=False)
        for ph in Phase:
            m = ws.manifest(ph)
            console.print(f"  {ph.value}: {m.status.value}")
            for s in m.steps:
                dur = f"{s.finished_at - s.started_at:.1f}s" if s.finished_at and s.started_at else ""
                console.print(f"    {s.status.value:8} {escape(s.name):20} {dur} {escape(s.error or '')}")
        return 0
    t = Table(title="projects")
    for col in ("project", "user", "status", "phase", "topic"):
        t.add_column(col)
    # topics and ids are user text: printed literally (a "[/]" in a topic crashed rich)
    from storage.projects import ProjectRegistry  # the one listing (API and page use it too)
    for st in reversed(ProjectRegistry(settings.data_dir).states(args.user or None)):
        t.add_row(escape(st.project_id), escape(st.user_id), st.status.value,
                  st.phase.value if st.phase else "-", escape(st.topic.problem_statement[:60]))
    console.print(t)
    return 0


def cmd_feedback(args: Any) -> int:
    from nanoresearch_app import compose

    settings = settings_from(args)
    ws = _workspace(settings, args.project)
    st = ws.read_model(A.PROJECT.path, ProjectState)
    fb = Feedback(user_id=st.user_id, project_id=st.project_id, phase=Phase(args.phase),
                  text=args.text, source="cli")
    ws.write_json(A.FEEDBACK.rel(phase=fb.phase, feedback_id=fb.feedback_id), fb)
    result = compose.apply_feedback(settings, fb, wait=args.wait, use_ray=not args.no_ray)
    console.print(json.dumps(result, indent=2, default=str))
    return 0


def cmd_profile(args: Any) -> int:
    from nanoresearch_cli import admin

    return admin.profile_command(settings_from(args), args.action, args.user, console)


def cmd_adapters(args: Any) -> int:
    from nanoresearch_cli import admin

    return admin.adapters_command(settings_from(args), args.action, args.user, args.to_version, console)


def cmd_store(args: Any) -> int:
    from nanoresearch_cli import admin

    return admin.store_command(settings_from(args), args.cmd, args.action, args.arg,
                                 args.user, args.k, console)


def cmd_serve(args: Any) -> int:
    from nanoresearch_cli import admin

    return admin.serve_command(settings_from(args), planner=not args.no_planner,
                                 block=args.block, console=console)


def cmd_submit(args: Any) -> int:
    from nanoresearch_cli import admin

    rest = [a for a in args.rest if a != "--"]
    if not rest:
        raise UserError("give the nanoresearch command to run after --, e.g. "
                        "nanoresearch submit -- run --topic '...'")
    return admin.submit_command(settings_from(args), rest, args.address, not args.no_wait, console)


def cmd_admin(args: Any) -> int:
    from nanoresearch_cli import admin

    return admin.admin_command(settings_from(args), args.action, args.user, args.token_id, console)


def dispatch(args: Any) -> int:
    table = {"doctor": cmd_doctor, "run": cmd_run, "ideate": cmd_ideate, "resume": cmd_resume,
             "attach": cmd_attach,
             "status": cmd_status, "feedback": cmd_feedback, "profile": cmd_profile,
             "skills": cmd_store, "memories": cmd_store, "adapters": cmd_adapters,
             "serve": cmd_serve, "submit": cmd_submit,
             "admin": cmd_admin}
    return table[args.cmd](args)
