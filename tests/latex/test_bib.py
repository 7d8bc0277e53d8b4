from nanoresearch.latex import bib_entry, bib_key, build_bib, escape_latex
from nanoresearch.latex.bib import bib_keys
from nanoresearch.types import LiteratureRecord


def test_keys_are_stable_and_safe():
    assert bib_key("arxiv:2106.01234") == "arxiv2106_01234"
    assert bib_key("doi:10.1000/xyz-1") == "doi10_1000_xyz_1"
    assert bib_key("arxiv:2106.01234") == bib_key("arxiv:2106.01234")
    assert bib_key("s2:123abc").startswith("s2")


def test_arxiv_entry_escapes_specials():
    r = LiteratureRecord(id="arxiv:2403.09548", title="Gradient Boosting: 50% & more_of {it} #1 ~x^2",
                         authors=["João Manoel Pinheiro", "Itsik Pe'er", "Tom and Jerry"], year=2024,
                         categories=["cs.LG"])
    e = bib_entry(r)
    assert e.startswith("@misc{arxiv2403_09548,")
    assert "eprint = {2403.09548}" in e and "archivePrefix = {arXiv}" in e and "primaryClass = {cs.LG}" in e
    assert r"50\% \& more\_of \{it\} \#1 \textasciitilde{}x\textasciicircum{}2" in e
    assert "João Manoel Pinheiro and Itsik Pe'er and Tom & Jerry" not in e  # '&' escaped
    assert r"Tom \& Jerry" in e and e.count(" and ") == 2
    assert "url = {https://arxiv.org/abs/2403.09548}" in e


def test_non_arxiv_and_duplicates():
    recs = [LiteratureRecord(id="doi:10.1/x", title="T", venue="JMLR", authors=["A B"], year=2020),
            LiteratureRecord(id="doi:10.1/x", title="T", venue="JMLR", authors=["A B"], year=2020)]
    text, by_key = build_bib(recs)
    assert bib_keys(text) == ["doi10_1_x"] and "@article{" in text and "doi = {10.1/x}" in text


def test_escape_unicode_outside_latin_is_transliterated_or_dropped():
    assert escape_latex("a\u2013b \u00d7 \u4e2d") == "a--b $\\times$ "


def test_record_without_authors_gets_no_invented_author(tmp_path):
    from nanoresearch.latex import bib_entry
    from nanoresearch.types import LiteratureRecord

    e = bib_entry(LiteratureRecord(id="local:34bc80333340", title="Analysis of Vision-based Abnormal Red Blood Cell Classification"))
    assert "author" not in e and "Anonymous" not in e and "Abnormal Red Blood Cell" in e
