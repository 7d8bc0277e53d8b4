"""Templates compile in both formats; errors parse to file:line; a failed compile never
replaces the last good PDF."""
import hashlib
import shutil
import subprocess

import pytest

from nanoresearch.errors import UserError
from nanoresearch.latex import compile_pdf, parse_log, render_main, results_table, write_bib
from nanoresearch.latex import compile as compile_mod
from nanoresearch.types import LiteratureRecord, MetricRecord

pytestmark = pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")

REC = LiteratureRecord(id="arxiv:2403.09548", title="Breast Cancer Classification Using Gradient Boosting",
                       authors=["João Manoel Herrera Pinheiro", "Marcelo Becker"], year=2024)


def make_paper(d, fmt, body="Boosting works \\citep{arxiv2403_09548}."):
    (d / "sections").mkdir(parents=True, exist_ok=True)
    write_bib([REC], d / "references.bib")
    ms = [MetricRecord(method=m, dataset="iris", metric="accuracy", value=v, seed=s)
          for m, v in [("ours", 0.93), ("base", 0.9)] for s in range(3)]
    (d / "sections" / "intro.tex").write_text("\\section{Introduction}\n" + body + "\n")
    (d / "sections" / "results.tex").write_text("\\section{Results}\n" + results_table(ms) + "\n")
    (d / "paper.tex").write_text(render_main(fmt, title="A Test", title_plain="A Test", author="nanoresearch",
                                             venue_line="draft", abstract="An abstract.",
                                             sections=["intro", "results"], keywords="tests"))


def digest(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", ["conference", "journal"])
def test_templates_compile_with_citation_and_table(tmp_path, fmt):
    make_paper(tmp_path, fmt)
    r = compile_pdf(tmp_path)
    assert r.ok, r.errors
    assert (tmp_path / "paper.pdf").stat().st_size > 1000 and r.pages >= 1
    text = subprocess.run(["pdftotext", str(tmp_path / "paper.pdf"), "-"], capture_output=True, text=True).stdout
    assert "Pinheiro" in text and "0.930" in text  # the bibliography and the table rendered
    assert "?" not in text.split("Introduction")[1].split("Results")[0]  # citation resolved


def test_error_is_located_and_previous_pdf_is_kept(tmp_path):
    make_paper(tmp_path, "conference")
    assert compile_pdf(tmp_path).ok
    good = digest(tmp_path / "paper.pdf")
    make_paper(tmp_path, "conference", body="Line one.\n\nBroken \\undefinedmacro{x} here.")
    r = compile_pdf(tmp_path)
    assert not r.ok and r.pdf_path is None
    e = r.errors[0]
    assert (e.file, e.line) == ("sections/intro.tex", 4) and "Undefined control sequence" in e.message
    assert digest(tmp_path / "paper.pdf") == good


def test_parse_log_classic_and_missing_package():
    log = "! Undefined control sequence.\nl.12 \\foo\n                {x}\n"
    (e,) = parse_log(log)
    assert (e.line, e.context.strip(), e.file) == (12, "\\foo", None)
    log = "./paper.tex:3: LaTeX Error: File `siunitx.sty' not found.\n"
    (e,) = parse_log(log)
    assert e.file == "paper.tex" and "texlive" in e.message


def test_missing_tex_names_debian_package(monkeypatch):
    monkeypatch.setattr(compile_mod, "_INSTALL_OK", False)
    monkeypatch.setattr(compile_mod.shutil, "which", lambda tool: None if tool == "latexmk" else "/bin/x")
    with pytest.raises(UserError, match="apt-get install latexmk"):
        compile_mod.check_tex_installation()


def test_installation_is_complete_here():
    compile_mod.check_tex_installation()


def test_pdf_figures_are_built_in(tmp_path):
    # a PDF figure under figures/ reaches the scratch build (only the top-level PDF, the
    # previous paper, is left out of the copy)
    make_paper(tmp_path / "fig", "conference")
    make_paper(tmp_path, "conference", body="See the figure.\n\n\\includegraphics[width=2cm]{figures/f1.pdf}")
    assert compile_pdf(tmp_path / "fig").ok
    (tmp_path / "figures").mkdir()
    shutil.copyfile(tmp_path / "fig" / "paper.pdf", tmp_path / "figures" / "f1.pdf")
    r = compile_pdf(tmp_path)
    assert r.ok, r.errors


def test_non_utf8_bytes_in_tex_output_do_not_crash_the_compile(tmp_path):
    # TeX writes 8-bit characters to the terminal raw (here byte 0xe9); the build must
    # decode them leniently instead of failing the paper step with UnicodeDecodeError
    make_paper(tmp_path, "conference", body="Caf\\typeout{caf^^e9 r^^e9sum^^e9}e.")
    r = compile_pdf(tmp_path)
    assert r.ok, r.errors
