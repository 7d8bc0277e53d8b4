"""How `nanoresearch run` / `attach` print a project's progress events.

Every `on_event(kind, data)` is read as the typed event of nanoresearch/types.py (the
orchestrator's legacy names are mapped by nanoresearch.progress.parse_event) and printed
by its type: phases and steps, each model generation with its tokens/s, each literature
source's records, experiment runs with their output tail, LaTeX passes, SDPO steps.
Kinds without a model (`orchestrator_restarted`, ...) have their own lines below.
"""
from __future__ import annotations

from typing import Callable

from rich.console import Console
from rich.markup import escape

from nanoresearch.progress import parse_event
from nanoresearch.types import (
    CodingMode, FeedbackReceived, FeedbackWaiting, LatexPass, LiteratureSearched, LlmCall,
    PhaseStarted, RunFinished, RunOutput, RunStarted, RunStatus, StepFinished, StepSkipped,
    StepStarted, TrainingStep,
)

SLOW_CALL_S = 2.0  # quicker model calls would flood the terminal
OUTPUT_LINES = 3  # of each run-output tail


def _line(console: Console, text: str) -> None:
    console.print(text, highlight=False)


def render(ev, console: Console) -> None:  # noqa: C901 - one branch per event type
    if isinstance(ev, PhaseStarted):
        console.rule(f"[bold]{ev.phase.value if ev.phase else ''}")
    elif isinstance(ev, StepStarted):
        _line(console, f"  [cyan]>[/] {escape(ev.step)} ...")
    elif isinstance(ev, StepFinished):
        _line(console, f"  [green]done[/] {escape(ev.step)} ({ev.duration_s} s)")
    elif isinstance(ev, StepSkipped):
        _line(console, f"  [dim]skip {escape(ev.step)} (finished earlier)[/]")
    elif isinstance(ev, FeedbackWaiting):
        _line(console, f"  [magenta]waiting for feedback on {ev.phase.value if ev.phase else 'the stage'}[/]")
    elif isinstance(ev, FeedbackReceived):
        _line(console, f"  [magenta]feedback[/] {escape(ev.text)}")
    elif isinstance(ev, CodingMode):
        _line(console, f"  [cyan]coding mode[/] {escape(ev.mode)}: {escape(ev.why)}")
    elif isinstance(ev, LlmCall) and ev.duration_s >= SLOW_CALL_S:
        rate = f", {ev.tokens_per_s} tok/s" if ev.tokens_per_s else ""
        _line(console, f"    [dim]{escape(ev.agent)}: {ev.completion_tokens} tokens in "
                       f"{ev.duration_s:.1f} s{rate}[/]")
    elif isinstance(ev, LiteratureSearched):
        what = f"failed: {escape(ev.error)}" if ev.error else f"{ev.scanned} records, {ev.kept} kept"
        query = f" '{escape(ev.query[:48])}'" if ev.query else ""
        _line(console, f"    [dim]literature {escape(ev.source)}{query}: {what}[/]")
    elif isinstance(ev, RunStarted):
        _line(console, f"    [cyan]run[/] attempt {ev.attempt} started ({escape(ev.backend)})")
    elif isinstance(ev, RunOutput):
        for text in ev.tail.splitlines()[-OUTPUT_LINES:]:
            _line(console, f"    [dim]{'!' if ev.stream == 'stderr' else '|'} {escape(text[:160])}[/]")
    elif isinstance(ev, RunFinished):
        color = "green" if ev.status == RunStatus.SUCCEEDED else "red"
        _line(console, f"    [{color}]run {ev.status.value}[/] attempt {ev.attempt} in {ev.duration_s} s"
                       + (f" (exit {ev.exit_code})" if ev.exit_code not in (None, 0) else ""))
    elif isinstance(ev, LatexPass):
        _line(console, f"    [dim]latex: {escape(ev.rule)} pass {ev.run} ({ev.elapsed_s:.1f} s)[/]")
    elif isinstance(ev, TrainingStep):
        _line(console, f"    [dim]SDPO step {ev.step}/{ev.steps or '?'}: loss {ev.loss:.4f}[/]")


def new_lines(before: str, now: str) -> str:
    """The lines of an output tail that the previous tail of the same stream did not show."""
    old, cur = before.splitlines(), now.splitlines()
    for k in range(min(len(old), len(cur)), 0, -1):
        if old[-k:] == cur[:k]:
            return "\n".join(cur[k:])
    return now


def printer(console: Console) -> Callable[[str, dict], None]:
    """The `on_event` callback that prints to `console`; a run's output tails are printed
    as the lines each adds."""
    shown: dict[tuple[str, str], str] = {}

    def print_event(kind: str, data: dict) -> None:
        if kind == "orchestrator_restarted":  # no typed form: it is about the actor, not the project
            _line(console, "  [yellow]orchestrator restarted by Ray; resuming from the last finished step[/]")
            return
        ev = parse_event(kind, data)
        if isinstance(ev, RunOutput):
            key = (ev.run_id, ev.stream)
            fresh = new_lines(shown.get(key, ""), ev.tail)
            shown[key] = ev.tail
            if not fresh.strip():
                return
            ev = ev.model_copy(update={"tail": fresh})
        if ev is not None:
            render(ev, console)
    return print_event
