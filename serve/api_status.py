"""The status and paper helpers of the project routes.

The service returns a typed `ProjectStatusReport` (nanoresearch/types.py) built from
project.json, the stage manifests and the progress events; nothing here repairs shapes.
A service that returns anything else is a programming error, answered with a clear 500.
"""
from __future__ import annotations

import logging
from typing import Any

from nanoresearch import artifacts as A
from nanoresearch.types import ProjectStatusReport
from serve.api_deps import ApiError

log = logging.getLogger(__name__)

PREFERRED_PDF = A.PAPER_PDF.path


def pick_pdf(artifacts: list[str]) -> str | None:
    """The paper: writing/paper.pdf, else the first PDF of the writing stage, else any PDF."""
    pdfs = sorted(a for a in artifacts if a.lower().endswith(".pdf"))
    if PREFERRED_PDF in pdfs:
        return PREFERRED_PDF
    writing = [a for a in pdfs if a.startswith("writing/") and "/figures/" not in a]
    return (writing or [None])[0]


def typed_status(service: Any, project_id: str) -> ProjectStatusReport:
    got = service.project_status(project_id)
    if not isinstance(got, ProjectStatusReport):
        log.error("%s.project_status returned %s", type(service).__name__, type(got).__name__)
        raise ApiError(500, "run_failure", f"the research service returned a malformed status "
                       f"for {project_id!r} ({type(got).__name__}, not ProjectStatusReport)")
    if got.project_id != project_id:
        raise ApiError(500, "run_failure", f"the research service answered for "
                       f"{got.project_id!r} when asked for {project_id!r}")
    return got


def enum_value(v: Any) -> Any:
    """Phase.WRITING -> 'writing'; plain values pass through."""
    return getattr(v, "value", v)
