"""Small helpers shared by end-to-end tests (not fixtures)."""
from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from nanoresearch.config import load_settings


def small_library(tmp: Path, n: int = 300) -> Path:
    """The first `n` records of the configured arXiv library: its index builds in seconds."""
    src = Path(load_settings().literature.library_path)
    if not src.is_file():
        pytest.skip("no local literature library")
    out = tmp / "lib.jsonl.gz"
    with gzip.open(src, "rt") as f, gzip.open(out, "wt") as g:
        for _, line in zip(range(n), f):
            g.write(line)
    return out
