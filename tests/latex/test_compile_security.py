"""Model-written LaTeX must not read host files, run commands, write outside its build
dir or see the server's environment (issue 15, H1). Each attack is compiled with the
sandbox off (restricted TeX alone must hold) and, where bubblewrap works, on."""
import shutil
import uuid

import pytest

from nanoresearch.execution.sandbox import sandbox_problem
from nanoresearch.latex import compile as compile_mod
from nanoresearch.latex import compile_pdf

pytestmark = pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")
MODES = [False] + ([True] if sandbox_problem() is None else [])


def _doc(body: str) -> str:
    return ("\\documentclass{article}\n\\makeatletter\n\\begin{document}\nText.\n"
            + body + "\n\\end{document}\n")


@pytest.fixture()
def secret(tmp_path):
    """A host file whose content, once read by TeX, lands in the log (\\typeout)."""
    mark = f"SECRET{uuid.uuid4().hex}"
    path = tmp_path / "host" / "secret.tex"
    path.parent.mkdir()
    path.write_text(f"\\typeout{{{mark}}}\n")
    return path, mark


ATTACKS = {
    "input": "\\input{{{p}}}",
    "at_at_input": "\\@@input {p} ",
    "input_if_exists": "\\InputIfFileExists{{{p}}}{{}}{{}}",
    "include_in_math": "$\\input{{{p}}}$",
    "openin_read": "\\newread\\r\\openin\\r={p} \\ifeof\\r\\else\\read\\r to\\x\\x\\fi",
    "parent_dir": "\\input{{../../host/secret}}",
}


@pytest.mark.parametrize("sandbox", MODES)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_tex_cannot_read_host_files(tmp_path, secret, attack, sandbox):
    path, mark = secret
    paper = tmp_path / "a" / "b"
    paper.mkdir(parents=True)
    (paper / "paper.tex").write_text(_doc(ATTACKS[attack].format(p=path)))
    res = compile_pdf(paper, sandbox=sandbox)
    log = (paper / "paper.log").read_text(errors="replace") if (paper / "paper.log").exists() else ""
    assert mark not in log and mark not in res.log_tail
    assert res.sandboxed is sandbox


@pytest.mark.parametrize("sandbox", MODES)
def test_no_shell_escape_and_no_writes_outside(tmp_path, sandbox):
    target = tmp_path / "pwned"
    paper = tmp_path / "p"
    paper.mkdir()
    (paper / "paper.tex").write_text(_doc(
        f"\\immediate\\write18{{touch {target}}}"
        f"\\newwrite\\w\\immediate\\openout\\w={tmp_path}/written.tex\\immediate\\write\\w{{x}}"
        "\\immediate\\closeout\\w"))
    compile_pdf(paper, sandbox=sandbox)
    assert not target.exists() and not (tmp_path / "written.tex").exists()


def test_latex_env_has_no_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("NANORESEARCH_ADMIN_TOKEN", "admin-should-not-leak")
    env = compile_mod.latex_env("/build")
    assert "OPENAI_API_KEY" not in env and "NANORESEARCH_ADMIN_TOKEN" not in env
    assert env["openin_any"] == env["openout_any"] == "p" and env["shell_escape"] == "f"
    assert "-norc" in compile_mod.latex_command("paper.tex")


@pytest.mark.skipif(sandbox_problem() is not None, reason="bubblewrap unavailable here")
def test_sandboxed_compile_still_builds_a_paper(tmp_path):
    paper = tmp_path / "ok"
    (paper / "sections").mkdir(parents=True)
    (paper / "sections" / "intro.tex").write_text("Hello $x^2$.\n")
    (paper / "paper.tex").write_text(_doc("\\input{sections/intro}"))
    res = compile_pdf(paper, sandbox=True)
    assert res.ok and res.sandboxed and (paper / "paper.pdf").stat().st_size > 0
