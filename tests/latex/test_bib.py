import shutil
import subprocess
import unicodedata

import pytest

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
    # a lone escaped brace would end a BibTeX field early: braces are written as commands
    assert r"50\% \& more\_of \textbraceleft{}it\textbraceright{} \#1 \textasciitilde{}x\textasciicircum{}2" in e
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


HOSTILE = LiteratureRecord(
    id="doi:10.1000/x}y{z%#_1", title="Ünïcödé } { \\input{/etc/passwd} ^^5cinput 100% #1 $x$ \u4e2d",
    authors=["Paweł Łukasz Erdős", "Ægir Ørsted and Co", "José } Nuñez"], year=2021,
    venue="J. of {Ha}%cks & \\write18{rm}",
    url="https://example.org/a}{c%zz\\d?q=1&r=%20#frag")
HOSTILE_ARXIV = LiteratureRecord(
    id="arxiv:2101.00001", title="Çà et là", authors=["Ñandú Müller"], year=2021,
    categories=["cs.LG}\\input{x}"], url="https://arxiv.org/abs/2101.00001")


def test_every_field_is_escaped_or_validated():
    from nanoresearch.latex.bib import doi_field, url_field

    e = bib_entry(HOSTILE)
    body = e.split("\n", 1)[1]
    assert "\\input" not in body.replace("\\textbackslash{}input", "")
    assert "\\write" not in body.replace("\\textbackslash{}write", "")
    assert e.count("{") == e.count("}")  # BibTeX counts every brace, escaped or not
    assert url_field("https://example.org/a}{c%zz\\d?q=1&r=%20#f") == \
        r"https://example.org/a\%7D\%7Bc\%25zz\%5Cd?q=1&r=\%20\%23f"
    assert url_field("https://example.org/a b") is None  # whitespace: not a URL
    assert url_field("javascript:alert(1)") is None and url_field("file:///etc/passwd") is None
    assert doi_field("10.1000/x}y") is None and doi_field("not a doi") is None
    assert doi_field("10.1145/3292500.3330701") == "10.1145/3292500.3330701"
    a = bib_entry(HOSTILE_ARXIV)
    assert "primaryClass" not in a  # not a plain category: dropped, never written raw
    assert r"Jo{\~a}o" in bib_entry(LiteratureRecord(id="x:1", title="T", authors=["João"]))


def test_verify_bib_reads_entries_with_bibtexparser():
    from nanoresearch.latex.bib import verify_bib

    text, _ = build_bib([HOSTILE, HOSTILE_ARXIV])
    assert verify_bib(text, [HOSTILE, HOSTILE_ARXIV]) == []
    assert verify_bib(text.replace("2021", "2020", 1), [HOSTILE, HOSTILE_ARXIV])[0].reason.startswith("entry differs")
    assert [p.key for p in verify_bib(text, [HOSTILE])] == [bib_keys(text)[1]]


HOSTILE_MATH = [r"$\input{/etc/passwd}$", r"$\InputIfFileExists{/etc/passwd}{}{}$",
                r"$\csname @@input\endcsname /etc/passwd$", r"$x^^5cinput{/etc/passwd}$",
                r"$\openin1=/etc/passwd \read1 to\x$", r"$\immediate\write18{id}$",
                r"$\catcode`\^^M=13$", r"$\def\x{1}$", r"\emph{50% of #1}", r"\cite{a}\input{/etc/passwd}",
                r"\citep[\input{/etc/passwd}]{arxiv2101_00001}"]


def test_model_math_is_whitelisted():
    from nanoresearch.latex import escape_model_text
    from nanoresearch.latex.escape import math_ok

    for bad in HOSTILE_MATH:
        out = escape_model_text(bad)
        for cmd in ("\\input", "\\InputIfFileExists", "\\csname", "\\openin", "\\read", "\\write",
                    "\\catcode", "\\def", "^^"):
            assert cmd not in out.replace("\\textbackslash{}", "|"), (bad, out)
    assert escape_model_text(r"gain $\alpha \leq \frac{1}{2}\sqrt{n}$ \emph{big} \citep{k1}") == \
        r"gain $\alpha \leq \frac{1}{2}\sqrt{n}$ \emph{big} \citep{k1}"
    assert escape_model_text(r"\emph{50% of #1}") == r"\emph{50\% of \#1}"
    assert not math_ok(r"$\mathrm{x}@$") and math_ok(r"$\mathbb{R}^{d}$")


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")
def test_hostile_and_accented_bib_and_math_compile(tmp_path):
    from nanoresearch.latex import compile_pdf, escape_model_text, render_main, write_bib

    recs = [HOSTILE, HOSTILE_ARXIV,
            LiteratureRecord(id="arxiv:2403.09548", title="Gradient Boosting für Brustkrebs",
                             authors=["João Manoel Herrera Pinheiro", "Zoë Šimůnková"], year=2024)]
    keys = write_bib(recs, tmp_path / "references.bib")
    body = " ".join(escape_model_text(m) for m in HOSTILE_MATH) + \
        " Cited " + " ".join(f"\\citep{{{k}}}" for k in keys) + "."
    (tmp_path / "sections").mkdir()
    (tmp_path / "sections" / "intro.tex").write_text("\\section{Introduction}\n" + body + "\n")
    (tmp_path / "paper.tex").write_text(render_main("conference", title="A Test", title_plain="A Test",
                                                    author="nanoresearch", venue_line="draft", abstract="A.",
                                                    sections=["intro"], keywords="tests"))
    r = compile_pdf(tmp_path)
    assert r.ok, r.errors
    produced = "".join(p.read_text(errors="replace") for p in tmp_path.glob("paper.*")
                       if p.suffix in (".log", ".bbl", ".aux"))
    assert "root:x:0:0" not in produced  # /etc/passwd was never read
    text = subprocess.run(["pdftotext", str(tmp_path / "paper.pdf"), "-"], capture_output=True, text=True).stdout
    text = unicodedata.normalize("NFC", text)  # pdftotext may emit a letter + combining accent
    assert "João Manoel Herrera Pinheiro" in text and "Šimůnková" in text and "Erdős" in text and "/etc/passwd" in text
