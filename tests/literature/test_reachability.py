"""Online sources join the default chain only when reachable: an unreachable one is
dropped at once with ONE log line (no retries per search), a configured mirror is kept,
and the doctor says which sources are live."""
from __future__ import annotations

import logging

import pytest

from nanoresearch.literature import ArxivSource, OpenAlexSource, SemanticScholarSource
from nanoresearch.literature.http_base import _PROBES, drop_unreachable, probe

NOWHERE = "https://nonexistent.invalid"  # .invalid never resolves (RFC 2606)


@pytest.fixture(autouse=True)
def _fresh_probes():
    _PROBES.clear()
    yield
    _PROBES.clear()


def test_probe_live_and_dead(fake_api):
    fake_api.script("/works", (200, "{}", {}))
    assert probe(fake_api.url) is None
    reason = probe(NOWHERE)
    assert reason and ("gaierror" in reason or "Error" in reason)


def test_unreachable_defaults_are_dropped_in_one_line(monkeypatch, fake_api, caplog, tmp_path):
    for cls in (OpenAlexSource, ArxivSource):
        monkeypatch.setattr(cls, "default_base_url", NOWHERE)
    local = type("Local", (), {"name": "local"})()
    mirror = SemanticScholarSource(fake_api.url, cache_dir=tmp_path)
    chain = [OpenAlexSource(cache_dir=tmp_path), ArxivSource(cache_dir=tmp_path), mirror, local]
    with caplog.at_level(logging.WARNING, logger="nanoresearch.literature.http_base"):
        kept = drop_unreachable(chain)
    assert [s.name for s in kept] == ["semantic_scholar", "local"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "openalex" in lines[0] and "arxiv" in lines[0] and "local" in lines[0]


def test_default_chain_goes_online_first_then_local():
    from nanoresearch.config import LiteratureSettings

    assert LiteratureSettings().sources == ["openalex", "arxiv", "semantic_scholar", "local"]


def test_doctor_reports_live_and_unreachable_sources(monkeypatch, fake_api, settings):
    from nanoresearch.doctor import literature_sources

    monkeypatch.setattr(OpenAlexSource, "default_base_url", NOWHERE)
    settings.literature.sources = ["openalex", "arxiv", "local"]
    settings.literature.base_urls = {"arxiv": fake_api.url}
    checks = {c.name: c for c in literature_sources(settings)}
    assert checks["literature source arxiv"].ok and "live" in checks["literature source arxiv"].detail
    dead = checks["literature source openalex"]
    assert not dead.ok and not dead.required and "unreachable" in dead.detail and "local library" in dead.fix
