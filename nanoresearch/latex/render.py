"""Render the paper skeleton from the project's own templates (package data).

Jinja runs with LaTeX-safe delimiters (`((( var )))`, `((* block *))`, `((= comment =))`)
so braces and percent signs in the template are plain TeX. Values passed in must already
be LaTeX (escaped by the caller).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import jinja2

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class VenueFormat:
    name: Literal["conference", "journal"]
    page_limit: int  # main text plus references, checked after compile
    cite_command: str  # what the writer uses for parenthetical citations
    words_per_section: int  # how long a section should be, told to the model


FORMATS = {
    "conference": VenueFormat("conference", 8, "\\citep", 220),
    "journal": VenueFormat("journal", 20, "\\citep", 400),
}


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        block_start_string="((*", block_end_string="*))",
        variable_start_string="(((", variable_end_string=")))",
        comment_start_string="((=", comment_end_string="=))",
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False,
    )


def render_main(fmt: str, *, title: str, title_plain: str, author: str, venue_line: str,
                abstract: str, sections: Sequence[str], keywords: str = "") -> str:
    """The main .tex that \\inputs `sections/<name>.tex` for each name, in order."""
    if fmt not in FORMATS:
        raise ValueError(f"paper_format {fmt!r} unknown; choose one of {', '.join(FORMATS)}")
    return _env().get_template(f"{fmt}.tex.j2").render(
        title=title, title_plain=title_plain, author=author, venue_line=venue_line,
        abstract=abstract, sections=list(sections), keywords=keywords)
