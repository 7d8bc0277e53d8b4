"""The environment an experiment sees: built from nothing, never inherited.

Experiments are written by a model, so they must not see the parent's API keys, tokens
or cloud credentials. We build a minimal environment from scratch (PATH, HOME, one
thread per math library, fixed hash seed, a headless plot backend) instead of
filtering the parent's, so a newly invented secret variable cannot leak through.
"""
from __future__ import annotations

import re

from nanoresearch.errors import UserError
from nanoresearch.execution.bubble import base_env

# Variables whose *names* look secret are refused even when a caller passes them in
# `extra`, because a planner could route a key into an experiment by accident.
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.I)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) or name.startswith("NANORESEARCH_")


def safe_env_vars(env: dict[str, str]) -> dict[str, str]:
    """`env` unchanged when no name looks secret, else UserError: for what goes into a
    Ray job's runtime_env (shown in the dashboard, inherited by the job's processes)."""
    bad = sorted(k for k in env if is_secret_name(k))
    if bad:
        raise UserError(f"refusing to put {', '.join(bad)} into a job's environment: "
                        "secrets and NANORESEARCH_* settings never leave the server")
    return dict(env)


def minimal_env(home: str, tmp: str = "/tmp", threads: int = 1,
                extra: dict[str, str] | None = None, python_bin: str | None = None
                ) -> dict[str, str]:
    env = base_env(home=home, tmp=tmp, threads=threads, python_bin=python_bin)
    for k, v in (extra or {}).items():
        if is_secret_name(k):
            raise UserError(f"refusing to pass {k} into an experiment: it looks like a secret")
        env[k] = str(v)
    return env
