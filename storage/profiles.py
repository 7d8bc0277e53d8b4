"""User profiles: versioned JSON files, and the questionnaire that creates them.

Layout: `<store_dir>/profiles/<user_id>/v<N>.json`; saving never overwrites, it writes
version N+1, so an earlier profile can be read back (`get(user, version=N)`).
`QUESTIONS` is plain data: the CLI asks them one by one, the HTTP API serves them as
JSON, and both hand the answers to `profile_from_answers`.
"""
from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nanoresearch.errors import UserError
from nanoresearch.ids import check_user_id
from nanoresearch.types import Resources, UserProfile, now

log = logging.getLogger(__name__)

QUESTIONS: list[dict[str, Any]] = [
    {"field": "name", "prompt": "Your name", "type": "str", "default": ""},
    {"field": "research_field", "prompt": "Your research field (e.g. machine learning, NLP)",
     "type": "str", "default": "machine learning"},
    {"field": "gpus", "prompt": "GPUs available for experiments", "type": "int", "default": 0},
    {"field": "cpus", "prompt": "CPU cores available for experiments", "type": "int", "default": 2},
    {"field": "hours", "prompt": "Compute hours per project", "type": "float", "default": 1.0},
    {"field": "money_usd", "prompt": "Money budget per project for hosted models (USD)",
     "type": "float", "default": 0.0},
    {"field": "methodological_preferences",
     "prompt": "Methodological preferences, comma separated (e.g. simple baselines, ablations)",
     "type": "list", "default": []},
    {"field": "target_venue", "prompt": "Target venue (e.g. NeurIPS, a workshop)", "type": "str",
     "default": ""},
    {"field": "paper_format", "prompt": "Paper format", "type": "choice",
     "choices": ["conference", "journal"], "default": "conference"},
    {"field": "writing_style", "prompt": "Writing style (e.g. concise, formal)", "type": "str",
     "default": "concise"},
    {"field": "notes", "prompt": "Anything else the assistant should know", "type": "str",
     "default": ""},
]
_RESOURCE_FIELDS = ("gpus", "cpus", "hours", "money_usd")


def _coerce(q: dict[str, Any], raw: Any) -> Any:
    """One answer -> its typed value, or UserError naming the question."""
    kind, field = q["type"], q["field"]
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return q["default"]
    try:
        if kind == "int":
            value = int(str(raw).strip())
            if value < 0:
                raise ValueError("must be >= 0")
            return value
        if kind == "float":
            value = float(str(raw).strip())
            if value < 0:
                raise ValueError("must be >= 0")
            return value
        if kind == "list":
            return [s.strip() for s in raw.split(",") if s.strip()] if isinstance(raw, str) \
                else [str(s).strip() for s in raw if str(s).strip()]
        if kind == "choice":
            value = str(raw).strip().lower()
            if value not in q["choices"]:
                raise ValueError(f"choose one of {', '.join(q['choices'])}")
            return value
        return str(raw).strip()
    except (ValueError, TypeError) as e:
        raise UserError(f"answer to {field!r} ({q['prompt']}) is invalid: {raw!r} ({e})") from None


def profile_from_answers(user_id: str, answers: dict[str, Any]) -> UserProfile:
    """Validated profile from questionnaire answers; unknown keys are an error (typos)."""
    check_user_id(user_id)
    known = {q["field"]: q for q in QUESTIONS}
    unknown = sorted(set(answers) - set(known))
    if unknown:
        raise UserError(f"unknown profile question(s) {unknown}; known: {', '.join(known)}")
    values = {f: _coerce(q, answers.get(f)) for f, q in known.items()}
    resources = Resources(**{f: values.pop(f) for f in _RESOURCE_FIELDS})
    try:
        return UserProfile(user_id=user_id, resources=resources, **values)
    except ValidationError as e:
        err = e.errors()[0]
        raise UserError(f"profile field {'.'.join(map(str, err['loc']))}: {err['msg']}") from None


class ProfileStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _dir(self, user_id: str) -> Path:
        return self.root / check_user_id(user_id)

    def versions(self, user_id: str) -> list[int]:
        d = self._dir(user_id)
        if not d.exists():
            return []
        return sorted(int(p.stem[1:]) for p in d.glob("v*.json") if p.stem[1:].isdigit())

    def get(self, user_id: str, version: int | None = None) -> UserProfile | None:
        """The latest profile (or `version`), None when the user has none."""
        versions = self.versions(user_id)
        if not versions:
            return None
        v = versions[-1] if version is None else version
        path = self._dir(user_id) / f"v{v}.json"
        if not path.exists():
            raise UserError(f"user {user_id!r} has no profile version {v}; versions: {versions}")
        return UserProfile.model_validate_json(path.read_text())

    def save(self, profile: UserProfile) -> UserProfile:
        """Write the profile as the next version; returns it with version/updated_at set."""
        d = self._dir(profile.user_id)
        d.mkdir(parents=True, exist_ok=True)
        version = (self.versions(profile.user_id) or [0])[-1] + 1
        stored = profile.model_copy(update={"version": version, "updated_at": now()})
        tmp = d / f".v{version}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(stored.model_dump_json(indent=2))
        # link, not rename: fails if a concurrent saver took this version number first
        try:
            os.link(tmp, d / f"v{version}.json")
        except FileExistsError:
            tmp.unlink()
            return self.save(profile)
        tmp.unlink()
        log.info("saved profile %s v%d", profile.user_id, version)
        return stored

    def users(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir()) if self.root.exists() else []

