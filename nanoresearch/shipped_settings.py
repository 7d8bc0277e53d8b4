"""API keys never travel inside serialised settings.

Settings cross process boundaries as JSON: an agent actor's constructor arguments, the
orchestrator actor's cycle, the planner deployment's bind arguments, a sweep's Ray tasks.
Ray keeps those (GCS, object store, the dashboard's task and actor views), so a key set
in the config file would be readable by anyone who can see the cluster. Instead:

- `shipped_json(settings)` writes the settings with every secret field emptied, and puts
  the secrets themselves in `<data_dir>/secrets.json` (mode 0600, atomic);
- `with_secrets(settings)` fills the emptied fields back in the receiving process, from
  that file (the data dir is local on one machine and on shared storage on a cluster).

Keys from the environment (`$OPENAI_API_KEY`, ...) are read by the providers themselves
and are not written anywhere.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nanoresearch.config import Settings

# (section, field) of every secret in Settings
SECRET_FIELDS = (("providers", "openai_api_key"), ("providers", "anthropic_api_key"),
                 ("storage", "qdrant_api_key"), ("literature", "semantic_scholar_api_key"))
SECRETS_FILE = "secrets.json"


def secrets_path(data_dir: str | Path) -> Path:
    return Path(data_dir).expanduser() / SECRETS_FILE


def _secrets_of(settings: "Settings") -> dict[str, str]:
    out = {}
    for section, field in SECRET_FIELDS:
        value = getattr(getattr(settings, section), field)
        if value:
            out[f"{section}.{field}"] = value
    return out


def stripped(settings: "Settings") -> "Settings":
    """A copy of `settings` with every secret field emptied."""
    update = {s: getattr(settings, s).model_copy(update={f: None for sec, f in SECRET_FIELDS if sec == s})
              for s in {sec for sec, _ in SECRET_FIELDS}}
    return settings.model_copy(update=update)


def _write_private(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def shipped_json(settings: "Settings") -> str:
    """The settings as JSON for another process, without secrets; the secrets (if any were
    configured) are stored beside the data, readable by this user only."""
    secrets = _secrets_of(settings)
    if secrets:
        path = secrets_path(settings.data_dir)
        try:
            current = json.loads(path.read_text())
        except (OSError, ValueError):
            current = None
        if current != secrets:
            _write_private(path, secrets)
    return stripped(settings).model_dump_json()


def with_secrets(settings: "Settings") -> "Settings":
    """`settings` with the emptied secret fields filled from `<data_dir>/secrets.json`."""
    try:
        stored = json.loads(secrets_path(settings.data_dir).read_text())
    except (OSError, ValueError):
        return settings
    update = {}
    for section, field in SECRET_FIELDS:
        value = stored.get(f"{section}.{field}")
        if value and not getattr(getattr(settings, section), field):
            sec = update.get(section, getattr(settings, section))
            update[section] = sec.model_copy(update={field: value})
    return settings.model_copy(update=update) if update else settings
