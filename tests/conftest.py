"""Test-wide settings: no real network model calls, a private data dir per session.

Real *network* LLM calls raise inside tests (NANORESEARCH_ALLOW_MODEL_REQUESTS=0); the
embedded model, loopback servers and the scripted model stay allowed. Converted model
weights are kept in a shared cache dir across sessions (NANORESEARCH_TEST_MODELS) so the
one-time GGUF -> HF conversion is not repeated by every test run.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ["NANORESEARCH_ALLOW_MODEL_REQUESTS"] = "0"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="nanoresearch-test-home-"))
os.environ["NANORESEARCH_HOME"] = str(_SESSION_HOME)


@pytest.fixture(scope="session")
def session_home() -> Path:
    return _SESSION_HOME


@pytest.fixture()
def settings(tmp_path):
    """Fresh Settings with a private data dir; models converted once per machine are reused
    from the session home's models dir via a symlink."""
    from nanoresearch.config import load_settings

    s = load_settings(overrides={"data_dir": str(tmp_path / "data")})
    shared_models = _SESSION_HOME / "models"
    shared_models.mkdir(parents=True, exist_ok=True)
    s.data_dir.mkdir(parents=True, exist_ok=True)
    if not s.models_dir.exists():
        s.models_dir.symlink_to(shared_models, target_is_directory=True)
    return s
