"""The environment an experiment sees: built from nothing, never inherited.

Experiments are written by a model, so they must not see the parent's API keys, tokens
or cloud credentials. We build a minimal environment from scratch (PATH, HOME, one
thread per math library, fixed hash seed, a headless plot backend) instead of
filtering the parent's, so a newly invented secret variable cannot leak through.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from nanoresearch.errors import UserError

# Variables whose *names* look secret are refused even when a caller passes them in
# `extra`, because a planner could route a key into an experiment by accident.
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.I)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def minimal_env(home: str, tmp: str = "/tmp", threads: int = 1,
                extra: dict[str, str] | None = None, python_bin: str | None = None
                ) -> dict[str, str]:
    bindir = str(Path(python_bin or sys.executable).parent)
    env = {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{tmp}/matplotlib",
        "XDG_CACHE_HOME": f"{tmp}/cache",  # fontconfig & co. would litter the work dir
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "NANORESEARCH_SANDBOX": "1",
    }
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "TORCH_NUM_THREADS"):
        env[var] = str(threads)
    for k, v in (extra or {}).items():
        if is_secret_name(k):
            raise UserError(f"refusing to pass {k} into an experiment: it looks like a secret")
        env[k] = str(v)
    return env
