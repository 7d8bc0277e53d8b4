"""What an acting agent is given from the stores, and what it counts as used.

The orchestrator retrieves skills and memories for a step (actors/learning_steps.py
`retrieve_for`); an agent puts them into its prompt as lines that carry their ids and
asks the model to name the ids it followed. Only offered ids the accepted output names
count as used (actors/learning_steps.py `count_cited`): offering is not using.
"""
from __future__ import annotations

from typing import Sequence

from nanoresearch.types import MemoryEntry, SkillEntry

LINE_CHARS = 240


def context_lines(skills: Sequence[SkillEntry] = (),
                  memories: Sequence[MemoryEntry] = ()) -> tuple[list[str], list[str]]:
    """Retrieved skills and memories as prompt lines, each led by its id in brackets."""
    sk = [f"[{s.id}] {s.trigger + ': ' if s.trigger else ''}"
          f"{' '.join(s.instructions[:2]) or s.name}"[:LINE_CHARS] for s in skills]
    mem = [f"[{m.id}] {m.content}"[:LINE_CHARS] for m in memories]
    return sk, mem


def cited_ids(used: Sequence[str], text: str, skills: Sequence[SkillEntry] = (),
              memories: Sequence[MemoryEntry] = ()) -> list[str]:
    """The offered ids an output names (in its `used_ids` or its text); any other id the
    model wrote is ignored."""
    named = {str(u).strip().strip("[]") for u in used}
    return [x.id for x in [*skills, *memories] if x.id in named or x.id in text]
