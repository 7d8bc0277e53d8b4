"""The one place that sets the process environment for running offline.

Model files come with the install (wheel-packaged models, the data dir); nothing may reach a
model hub at run time, and library progress bars would interleave with the stage progress.
`apply()` is called once at process start (the CLI entry, which `nanoresearch serve` goes
through, and each benchmark main); Ray workers get the same variables through the job's
runtime_env (`ray_runtime.init_ray`). Constructors and library functions never set them.
A variable the user already set wins (e.g. HF_HUB_OFFLINE=0 to allow downloads).
"""
from __future__ import annotations

import os

ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The offline variables as they apply to `environ` (default: this process): a value
    already set there is kept."""
    cur = os.environ if environ is None else environ
    return {k: cur.get(k, v) for k, v in ENV.items()}


def apply() -> dict[str, str]:
    """Set the offline variables in this process (keeping any already set); returns them."""
    for k, v in ENV.items():
        os.environ.setdefault(k, v)
    return env()
