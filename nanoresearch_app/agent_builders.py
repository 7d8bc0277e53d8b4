"""How each declared agent (nanoresearch/agents.py) is built from the settings.

One function per `AgentSpec`, named after it, taking a `BuildContext`; called inside the
agent's own process (its Ray actor, or this process with --no-ray).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from nanoresearch.config import Settings


@dataclass
class BuildContext:
    settings: Settings
    llm: Callable[[str], Any]  # role -> LLM (models.per_agent routing, shared ledger)
    workspace: Any = None  # the project's workspace dir (its progress channel), when known


def ideation(ctx: BuildContext) -> Any:
    from actors.ideation import IdeationAgent
    from nanoresearch.embeddings import make_embedder
    from nanoresearch.literature.search import make_literature

    s = ctx.settings
    emb = make_embedder(s.storage.embedder)
    lit = make_literature(s, emb, base_urls=s.literature.base_urls or None)
    from nanoresearch.progress import channel_near
    lit.progress = channel_near(ctx.workspace)  # records scanned / kept per source, live
    return IdeationAgent(ctx.llm("ideation"), lit, s.budgets, emb)


def planning(ctx: BuildContext) -> Any:
    from actors.planning import PlanningAgent
    from nanoresearch.datasets import get_catalog
    return PlanningAgent(ctx.llm("planning"), ctx.llm("review"), get_catalog(), ctx.settings.budgets)


def coding(ctx: BuildContext) -> Any:
    from actors.coding import CodingAgent
    s = ctx.settings
    choice = coding_mode(s)
    return CodingAgent(ctx.llm("coding"), None, s.budgets, mode=choice.mode,
                       partition=s.execution.slurm_partition, choice=choice.notes())


def coding_mode(s: Settings):
    """The coding mode for the configured coding model (capability -> mode, with why)."""
    from nanoresearch.coding.capability import choose_mode
    return choose_mode(s.coding.mode, s.models.for_agent("coding"), s.models.capabilities)


def debugging(ctx: BuildContext) -> Any:
    from actors.debugging import DebuggingAgent
    return DebuggingAgent(ctx.llm("debugging"), ctx.settings.budgets)


def analysis(ctx: BuildContext) -> Any:
    from actors.analysis import AnalysisAgent
    return AnalysisAgent(ctx.llm("analysis"))


def writing(ctx: BuildContext) -> Any:
    from actors.writing import WritingAgent
    return WritingAgent(ctx.llm("writing"), ctx.settings.budgets)


def review(ctx: BuildContext) -> Any:
    from actors.review import ReviewAgent
    return ReviewAgent(ctx.llm("review"), reviewer_count(ctx.settings))


def reflection(ctx: BuildContext) -> Any:
    from actors.reflection import Reflector
    return Reflector(ctx.llm("reflection"))


def reviewer_count(s: Settings) -> int:
    """One model review (plus the review agent's rule checklist, which always runs) on the
    embedded small model, where each review costs a minute of CPU and a second reviewer
    of the same 135M model adds noise, not a second opinion; the ensemble
    (`budgets.reviewers`) on a strong model, or when changed from its default (settings
    travel to the actors as JSON, so "set explicitly" cannot be told apart otherwise)."""
    small = s.models.for_agent("review").startswith("embedded:")
    changed = s.budgets.reviewers != type(s.budgets).model_fields["reviewers"].default
    return 1 if small and not changed else s.budgets.reviewers
