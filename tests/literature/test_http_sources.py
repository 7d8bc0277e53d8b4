"""The API clients against a real loopback HTTP server serving each API's documented
response shape, including the failure modes a literature search meets in practice."""
from __future__ import annotations

import json

import pytest

from nanoresearch.errors import RunFailure, ServiceUnavailable
from nanoresearch.literature import (ArxivSource, CircuitBreaker, LiteratureSearch,
                                     MalformedResponse, OpenAlexSource, SemanticScholarSource,
                                     run_sync)

OPENALEX = json.dumps({
    "meta": {"count": 1, "page": 1, "per_page": 5},
    "results": [{
        "id": "https://openalex.org/W2963403868",
        "doi": "https://doi.org/10.48550/arXiv.1706.03762",
        "title": "Attention Is All You Need", "display_name": "Attention Is All You Need",
        "publication_year": 2017,
        "abstract_inverted_index": {"The": [0], "dominant": [1], "sequence": [2, 6],
                                    "transduction": [3], "models": [4], "use": [5],
                                    "encoders.": [7]},
        "authorships": [{"author": {"id": "https://openalex.org/A1", "display_name": "Ashish Vaswani"}}],
        "primary_location": {"landing_page_url": "https://arxiv.org/abs/1706.03762",
                             "source": {"display_name": "arXiv (Cornell University)"}},
    }, {
        "id": "https://openalex.org/W42", "doi": "https://doi.org/10.1000/XYZ.5",
        "title": "A Journal Paper", "publication_year": 2020, "abstract_inverted_index": None,
        "authorships": [], "primary_location": None,
    }]})

ATOM = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom"
      xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <title type="html">ArXiv Query: search_query=all:graph</title>
  <opensearch:totalResults>1</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/abs/1609.02907v4</id>
    <published>2016-09-09T19:48:45Z</published>
    <title>Semi-Supervised Classification with Graph
      Convolutional Networks</title>
    <summary>We present a scalable approach for semi-supervised learning on graph-structured data.</summary>
    <author><name>Thomas N. Kipf</name></author>
    <author><name>Max Welling</name></author>
    <arxiv:primary_category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/>
    <category term="stat.ML" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
</feed>"""
ATOM_EMPTY = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
              '<title>ArXiv Query</title></feed>')

S2 = json.dumps({"total": 2, "offset": 0, "next": 2, "data": [
    {"paperId": "649def34f8be52c8b66281af98ae884c09aef38b", "title": "Construction of the Literature Graph",
     "abstract": "We describe a deployed scalable system.", "year": 2018, "venue": "NAACL",
     "url": "https://www.semanticscholar.org/paper/649def34", "externalIds": {"DOI": "10.18653/V1/N18-3011"},
     "authors": [{"authorId": "1", "name": "Waleed Ammar"}]},
    {"paperId": "abc", "title": "BERT", "abstract": None, "year": 2018, "venue": "",
     "externalIds": {"ArXiv": "1810.04805"}, "authors": []}]})


def _src(cls, api, tmp_path, **kw):
    kw.setdefault("backoff_s", 0.01)
    kw.setdefault("min_interval_s", 0.0)
    return cls(api.url, cache_dir=tmp_path, **kw)


def test_openalex_parses_documented_shape(fake_api, tmp_path):
    fake_api.script("/works", (200, OPENALEX, {"Content-Type": "application/json"}))
    recs = run_sync(_src(OpenAlexSource, fake_api, tmp_path, mailto="me@x.org").asearch("attention", 5))
    assert [r.id for r in recs] == ["arxiv:1706.03762", "doi:10.1000/xyz.5"]
    assert recs[0].abstract == "The dominant sequence transduction models use sequence encoders."
    assert recs[0].authors == ["Ashish Vaswani"] and recs[0].year == 2017
    assert recs[1].abstract == "" and recs[1].source == "openalex"
    _, params = fake_api.hits[0]
    assert params["search"] == ["attention"] and params["mailto"] == ["me@x.org"]


def test_arxiv_parses_atom(fake_api, tmp_path):
    fake_api.script("/api/query", (200, ATOM, {"Content-Type": "application/atom+xml"}))
    recs = run_sync(_src(ArxivSource, fake_api, tmp_path).asearch("graph convolution", 3))
    assert len(recs) == 1
    r = recs[0]
    assert r.id == "arxiv:1609.02907"  # version suffix dropped: ids are stable
    assert r.title == "Semi-Supervised Classification with Graph Convolutional Networks"
    assert r.authors == ["Thomas N. Kipf", "Max Welling"] and r.categories == ["cs.LG", "stat.ML"]
    assert "all:graph AND all:convolution" in fake_api.hits[0][1]["search_query"][0]


def test_semantic_scholar_ids_and_api_key(fake_api, tmp_path):
    fake_api.script("/graph/v1/paper/search", (200, S2, {}))
    src = _src(SemanticScholarSource, fake_api, tmp_path, api_key="k123")
    recs = run_sync(src.asearch("literature graph", 5))
    assert [r.id for r in recs] == ["doi:10.18653/v1/n18-3011", "arxiv:1810.04805"]
    assert src.headers["x-api-key"] == "k123"
    assert "abstract" in fake_api.hits[0][1]["fields"][0]


def test_429_then_success_retries(fake_api, tmp_path):
    fake_api.script("/works", (429, "slow down", {"Retry-After": "0"}),
                    (429, "slow down", {}), (200, OPENALEX, {}))
    src = _src(OpenAlexSource, fake_api, tmp_path)
    recs = run_sync(src.asearch("attention", 5))
    assert len(recs) == 2 and fake_api.count("/works") == 3
    assert src.breaker.state == "closed" and src.breaker.failures == 0


def test_5xx_storm_trips_breaker_then_short_circuits(fake_api, tmp_path):
    fake_api.script("/graph/v1/paper/search", (503, "overloaded", {}))
    clock = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown_s=30, clock=lambda: clock[0])
    src = _src(SemanticScholarSource, fake_api, tmp_path, max_retries=5, breaker=breaker)
    with pytest.raises(ServiceUnavailable, match="circuit breaker is open"):
        run_sync(src.asearch("q", 5))
    assert fake_api.count("/graph/v1/paper/search") == 3 and breaker.state == "open"
    with pytest.raises(ServiceUnavailable):  # open: no request reaches the server
        run_sync(src.asearch("another query", 5))
    assert fake_api.count("/graph/v1/paper/search") == 3
    # after the cooldown one trial call goes through; success closes the breaker
    clock[0] = 31.0
    assert breaker.state == "half_open"
    fake_api.routes["/graph/v1/paper/search"].clear()
    fake_api.script("/graph/v1/paper/search", (200, S2, {}))
    assert len(run_sync(src.asearch("third", 5))) == 2
    assert breaker.state == "closed"


def test_half_open_failure_reopens(fake_api, tmp_path):
    fake_api.script("/works", (500, "boom", {}))
    clock = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown_s=10, clock=lambda: clock[0])
    src = _src(OpenAlexSource, fake_api, tmp_path, max_retries=0, breaker=breaker)
    for _ in range(2):
        with pytest.raises(ServiceUnavailable):
            run_sync(src.asearch("q", 5))
    assert breaker.state == "open"
    clock[0] = 11.0
    with pytest.raises(ServiceUnavailable):
        run_sync(src.asearch("q", 5))
    assert breaker.state == "open" and fake_api.count("/works") == 3


def test_empty_results(fake_api, tmp_path):
    fake_api.script("/works", (200, json.dumps({"meta": {"count": 0}, "results": []}), {}))
    fake_api.script("/api/query", (200, ATOM_EMPTY, {}))
    fake_api.script("/graph/v1/paper/search", (200, json.dumps({"total": 0, "offset": 0}), {}))
    for cls in (OpenAlexSource, ArxivSource, SemanticScholarSource):
        assert run_sync(_src(cls, fake_api, tmp_path).asearch("zzzz", 5)) == []


@pytest.mark.parametrize("cls,path,body,msg", [
    (OpenAlexSource, "/works", "<html>gateway</html>", "invalid JSON"),
    (OpenAlexSource, "/works", json.dumps({"results": [{"title": "x", "authorships": [{"author": 5}]}]}),
     "malformed response"),
    (ArxivSource, "/api/query", "<feed><entry>", "invalid Atom XML"),
    (SemanticScholarSource, "/graph/v1/paper/search", json.dumps(["not", "an", "object"]), "expected an object"),
    (SemanticScholarSource, "/graph/v1/paper/search", json.dumps({"message": "oops"}), "no 'data' list"),
])
def test_malformed_bodies_raise_clear_errors(fake_api, tmp_path, cls, path, body, msg):
    fake_api.script(path, (200, body, {}))
    src = _src(cls, fake_api, tmp_path)
    with pytest.raises(MalformedResponse, match=msg):
        run_sync(src.asearch("q", 5))
    # a malformed body is not cached: the next call asks the server again
    with pytest.raises(MalformedResponse):
        run_sync(src.asearch("q", 5))
    assert fake_api.count(path) == 2


def test_non_retryable_status_is_clear(fake_api, tmp_path):
    fake_api.script("/works", (400, "bad filter", {}))
    with pytest.raises(RunFailure, match="HTTP 400"):
        run_sync(_src(OpenAlexSource, fake_api, tmp_path).asearch("q", 5))
    assert fake_api.count("/works") == 1


def test_cache_hit_avoids_second_request(fake_api, tmp_path):
    fake_api.script("/api/query", (200, ATOM, {}))
    src = _src(ArxivSource, fake_api, tmp_path)
    first = run_sync(src.asearch("graph convolution", 3))
    fresh = _src(ArxivSource, fake_api, tmp_path)  # a new client: the cache is on disk
    second = run_sync(fresh.asearch("graph convolution", 3))
    assert first == second and fake_api.count("/api/query") == 1
    run_sync(fresh.asearch("other words", 3))
    assert fake_api.count("/api/query") == 2


def test_connection_refused_fails_soft_in_chain(fake_api, tmp_path):
    dead = OpenAlexSource("http://127.0.0.1:9", cache_dir=tmp_path, max_retries=1,
                          backoff_s=0.01, min_interval_s=0)
    fake_api.script("/api/query", (200, ATOM, {}))
    chain = LiteratureSearch([dead, _src(ArxivSource, fake_api, tmp_path)])
    recs = chain.search("graph convolution", 3)
    assert [r.id for r in recs] == ["arxiv:1609.02907"]
    assert "openalex" in chain.last_errors and "ConnectError" in chain.last_errors["openalex"]


def test_polite_rate_limit_spaces_requests(fake_api, tmp_path):
    import asyncio
    import time
    fake_api.script("/works", (200, OPENALEX, {}))
    src = OpenAlexSource(fake_api.url, cache_dir=None, min_interval_s=0.2)

    async def three():
        return await asyncio.gather(*(src.asearch(f"q{i}", 2) for i in range(3)))
    t = time.monotonic()
    assert all(len(r) == 2 for r in run_sync(three()))
    assert time.monotonic() - t >= 0.4 and fake_api.count("/works") == 3
