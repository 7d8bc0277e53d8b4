"""Turn the service's status dict into the typed `ProjectStatusOut` the API returns.

The service may hand back manifests as step lists, as StageManifest objects or as their
JSON dicts (whatever it read from the workspace); they are normalised here so the web
page and clients see one shape: {phase: [StepRecord]} plus {phase: StepStatus}.
"""
from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ValidationError

from serve.api_deps import ApiError
from serve.api_models import ProjectStatusOut

log = logging.getLogger(__name__)

PREFERRED_PDF = "writing/paper.pdf"


def pick_pdf(artifacts: list[str]) -> str | None:
    """The paper: writing/paper.pdf, else the first PDF of the writing stage, else any PDF."""
    pdfs = sorted(a for a in artifacts if a.lower().endswith(".pdf"))
    if PREFERRED_PDF in pdfs:
        return PREFERRED_PDF
    writing = [a for a in pdfs if a.startswith("writing/")]
    return (writing or pdfs or [None])[0]


def _plain(obj: Any) -> Any:
    return obj.model_dump(mode="json") if isinstance(obj, BaseModel) else obj


def enum_value(v: Any) -> Any:
    """Phase.WRITING -> 'writing'; plain values pass through."""
    return getattr(v, "value", v)


def _split_manifests(raw: Any) -> tuple[dict[str, list], dict[str, str]]:
    steps: dict[str, list] = {}
    phase_status: dict[str, str] = {}
    for phase, val in (raw or {}).items():
        val = _plain(val)
        if isinstance(val, dict):  # a whole StageManifest
            steps[enum_value(phase)] = [_plain(s) for s in val.get("steps", [])]
            if val.get("status"):
                phase_status[enum_value(phase)] = enum_value(val["status"])
        else:
            steps[enum_value(phase)] = [_plain(s) for s in val or []]
    return steps, phase_status


def normalize_status(project_id: str, raw: dict[str, Any], has_pdf: bool) -> ProjectStatusOut:
    steps, phase_status = _split_manifests(raw.get("manifests"))
    phase_status.update({enum_value(k): enum_value(v) for k, v in (raw.get("phase_status") or {}).items()})
    topic = _plain(raw.get("topic"))
    data = {
        "project_id": project_id,
        "status": enum_value(raw.get("status", "created")),
        "phase": enum_value(raw.get("phase")),
        "phase_status": phase_status,
        "manifests": steps,
        "waiting_feedback_for": enum_value(raw.get("waiting_feedback_for")),
        "topic": topic if isinstance(topic, dict) else None,
        "has_pdf": has_pdf,
        "error": raw.get("error"),
    }
    try:
        return ProjectStatusOut.model_validate(data)
    except ValidationError as e:
        log.error("service returned a malformed status for %s: %s", project_id, e)
        raise ApiError(500, "run_failure", f"the research service returned a malformed status "
                       f"for {project_id!r}: {e.errors()[0]['msg']}") from None
