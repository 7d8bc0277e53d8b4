"""The offline library: one query per benchmark domain returns relevant records; ids are
stable; the user's BibTeX/JSONL library imports and searches; reranking uses an embedder."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nanoresearch.errors import UserError
from nanoresearch.literature import LiteratureSearch, LocalLibrary, UserLibrary, load_user_library
from nanoresearch.literature.text import local_id

DOMAIN_QUERIES = {
    "nlp": ("sentiment classification of movie reviews with pretrained transformers",
            {"sentiment", "text", "language", "review"}),
    "cv": ("image classification convolutional network data augmentation",
           {"image", "visual", "vision", "convolutional"}),
    "multimodal": ("vision language model image captioning visual question answering",
                   {"vision-language", "visual", "caption", "multimodal", "image"}),
    "tabular": ("gradient boosted decision trees for tabular data",
                {"tabular", "boosting", "tree"}),
    "timeseries": ("multivariate time series forecasting", {"time series", "forecasting", "temporal"}),
    "graph": ("graph neural network node classification message passing",
              {"graph", "node", "gnn"}),
    "audio": ("speech recognition and audio event classification",
              {"speech", "audio", "acoustic", "sound"}),
}


@pytest.mark.parametrize("domain", sorted(DOMAIN_QUERIES))
def test_each_domain_returns_relevant_records(local_library, domain):
    query, words = DOMAIN_QUERIES[domain]
    recs = local_library.search(query, 10)
    assert len(recs) == 10
    relevant = [r for r in recs if any(w in (r.title + " " + r.abstract).lower() for w in words)]
    assert len(relevant) >= 8, [r.title for r in recs]
    assert all(r.id.startswith(("arxiv:", "local:")) for r in recs)
    assert recs[0].score >= recs[-1].score > 0


def test_ids_are_stable_and_gettable(local_library):
    rec = local_library.search("graph convolutional networks semi-supervised", 1)[0]
    again = local_library.get(rec.id)
    assert again is not None and again.title == rec.title and again.abstract == rec.abstract
    assert local_library.get("arxiv:0000.00000") is None
    assert len(local_library) == 100_000
    idless = next(i for i in local_library.ids if i.startswith("local:"))
    r = local_library.get(idless)
    assert r.id == local_id(r.title) and r.url == ""


def test_reload_uses_cached_index_fast(library_path, lit_cache, local_library):
    done = local_library.folder / "done"
    stamp = done.stat().st_mtime_ns
    lib = LocalLibrary(library_path, lit_cache)
    assert lib.folder == local_library.folder and done.stat().st_mtime_ns == stamp  # no rebuild
    assert lib.search("speech", 3)[0].id == local_library.search("speech", 3)[0].id
    lib.close()


def test_missing_library_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="library_path"):
        LocalLibrary(tmp_path / "nope.jsonl.gz", tmp_path)


class KeywordEmbedder:
    """Deterministic embedder whose only dimension is 'mentions protein': lets the test
    check that the rerank reorders BM25 candidates by the embedding."""

    def embed(self, texts):
        v = np.array([[1.0, 0.0] if "protein" in t.lower() else [0.0, 1.0] for t in texts])
        v[0] = [1.0, 0.0]  # the query
        return v


def test_embedding_rerank_reorders_candidates(library_path, lit_cache):
    lib = LocalLibrary(library_path, lit_cache, embedder=KeywordEmbedder(), candidates=60)
    recs = lib.search("graph neural network", 5)
    plain = LocalLibrary(library_path, lit_cache).search("graph neural network", 5)

    def n_protein(rs):
        return sum("protein" in r.abstract.lower() or "protein" in r.title.lower() for r in rs)
    assert n_protein(recs[:1]) == 1 and n_protein(recs) > n_protein(plain)
    lib.close()


BIB = r"""
@inproceedings{kipf2017gcn,
  title = {Semi-Supervised Classification with {Graph} Convolutional Networks},
  author = {Kipf, Thomas N. and Welling, Max},
  booktitle = {ICLR}, year = 2017, eprint = {1609.02907},
  abstract = {We present a scalable approach for semi-supervised learning on graph-structured data.}
}
@article{doe2020,
  title = "Tabular Forests Revisited", author = "Doe, Jane", journal = {JMLR}, year = {2020},
  doi = {10.5555/ABC}
}
@misc{nokey, author = {Someone}}
"""


def test_bibtex_import(tmp_path):
    p = tmp_path / "mine.bib"
    p.write_text(BIB)
    recs = load_user_library(p)
    assert [r.id for r in recs] == ["arxiv:1609.02907", "doi:10.5555/ABC"]
    assert recs[0].title == "Semi-Supervised Classification with Graph Convolutional Networks"
    assert recs[0].authors == ["Kipf, Thomas N.", "Welling, Max"] and recs[0].year == 2017
    assert recs[1].venue == "JMLR" and all(r.source == "user" for r in recs)
    lib = UserLibrary(recs)
    assert lib.search("graph semi-supervised", 2)[0].id == "arxiv:1609.02907"


def test_jsonl_import_and_errors(tmp_path):
    p = tmp_path / "mine.jsonl"
    p.write_text(json.dumps({"title": "My Forecasting Paper", "abstract": "We forecast load.",
                             "authors": ["A"], "year": 2024}) + "\n")
    [rec] = load_user_library(p)
    assert rec.id == local_id("My Forecasting Paper") and rec.year == 2024
    p.write_text("{bad json\n")
    with pytest.raises(UserError, match=r"mine.jsonl:1 is not valid JSON"):
        load_user_library(p)
    with pytest.raises(UserError, match=".bib or .jsonl"):
        (tmp_path / "x.txt").write_text("x")
        load_user_library(tmp_path / "x.txt")


def test_chain_dedupes_user_and_local(local_library, tmp_path):
    hit = local_library.search("speech emotion recognition", 1)[0]
    p = tmp_path / "mine.jsonl"
    p.write_text(json.dumps({"id": hit.id, "title": hit.title.upper(), "abstract": hit.abstract}) + "\n")
    chain = LiteratureSearch([UserLibrary.from_file(p), local_library], stop_when_full=False)
    recs = chain.search("speech emotion recognition", 5)
    assert [r.id for r in recs].count(hit.id) == 1 and recs[0].source == "user"
    assert len(recs) == 5 and chain.get(recs[-1].id) is not None


def test_concurrent_reads_are_consistent(local_library):
    from concurrent.futures import ThreadPoolExecutor
    queries = [q for q, _ in DOMAIN_QUERIES.values()] * 4
    expected = {q: [r.id for r in local_library.search(q, 10)] for q in set(queries)}
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda q: (q, [r.id for r in local_library.search(q, 10)]), queries))
    assert all(ids == expected[q] for q, ids in got)
