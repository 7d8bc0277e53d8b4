"""make_literature from settings, the fallback chain's fail-soft behaviour, and the sync
facade inside a running event loop."""
from __future__ import annotations

import asyncio
import json

import pytest

from nanoresearch.errors import UserError
from nanoresearch.literature import LiteratureSearch, UserLibrary, make_literature, run_sync
from nanoresearch.types import LiteratureRecord

from .test_http_sources import ATOM


class Broken:
    name = "broken"

    def search(self, query, k):
        raise OSError("disk gone")


def mine(tmp_path):
    p = tmp_path / "mine.jsonl"
    p.write_text(json.dumps({"title": "My Own Graph Paper", "abstract": "Graph neural nets for molecules.",
                             "doi": "10.1/mine"}) + "\n")
    return p


def test_make_literature_local_and_user(settings, tmp_path, library_path, lit_cache):
    settings.literature.library_path = library_path
    settings.literature.user_library = str(mine(tmp_path))
    lit = make_literature(settings, cache_dir=lit_cache)
    assert [s.name for s in lit.sources] == ["user", "local"]
    recs = lit.search("graph neural network molecules", 5)
    assert recs[0].id == "doi:10.1/mine" and len(recs) == 5
    assert lit.get(recs[3].id).title == recs[3].title


def test_make_literature_web_sources_use_base_urls(settings, tmp_path, fake_api):
    fake_api.script("/api/query", (200, ATOM, {}))
    settings.literature.sources = ["local", "arxiv"]
    settings.literature.library_path = str(tmp_path / "missing.jsonl.gz")  # local fails soft
    lit = make_literature(settings, cache_dir=tmp_path, base_urls={"arxiv": fake_api.url})
    assert [s.name for s in lit.sources] == ["arxiv"]
    assert lit.search("graph convolution", 2)[0].id == "arxiv:1609.02907"


def test_no_usable_source_is_a_user_error(settings, tmp_path):
    settings.literature.library_path = str(tmp_path / "missing.jsonl.gz")
    with pytest.raises(UserError, match="no literature source configured"):
        make_literature(settings, cache_dir=tmp_path)


def test_failing_source_falls_through_and_is_reported():
    good = UserLibrary([LiteratureRecord(id="arxiv:1", title="Graph Paper", abstract="graph nets")])
    lit = LiteratureSearch([Broken(), good])
    assert [r.id for r in lit.search("graph", 3)] == ["arxiv:1"]
    assert lit.last_errors == {"broken": "disk gone"}
    assert LiteratureSearch([Broken()]).search("graph", 3) == []
    assert lit.search("   ", 3) == []


def test_sync_facade_inside_running_loop():
    good = UserLibrary([LiteratureRecord(id="arxiv:1", title="Graph Paper", abstract="graph nets")])
    lit = LiteratureSearch([good])

    async def inside():
        return lit.search("graph", 1)  # an agent calling the sync API from async code
    assert [r.id for r in asyncio.run(inside())] == ["arxiv:1"]
    assert run_sync(lit.asearch("graph", 1))[0].id == "arxiv:1"
