"""Writing agent with keyless models: a full draft compiles, fabrications are cut, bad
model text falls back to artifact-built text, and the LaTeX fix loop repairs a section
without ever replacing a good PDF by a failed one."""
import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest

from nanoresearch.config import Budgets
from nanoresearch.latex import cited_keys
from nanoresearch.llm.scripted import FunctionModel

from actors.writing import WritingAgent, route_requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "latex"))
from stage2_fixture import make_stage2  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")

OUTLINE = {"title": "Label Smoothing Helps Boosted Trees", "key_message": "Smoothing helps small data.",
           "points": ["Why calibration of trees matters for small tabular data."] * 7}
PROSE = ("Gradient boosted trees are strong on tabular data [1]. Label smoothing raises the accuracy to "
         "0.965 while logistic regression reaches 0.947 [2]. Smith et al. (2019) reported 99.1% accuracy "
         "on this data \\cite{smith2019}. Our method gains 4.2 points on every benchmark. This matters because the data are small and the models overfit.")


def responder(prose=PROSE, fix=None):
    def fn(msgs):
        u = msgs[-1].content
        if "JSON schema" in u:
            return json.dumps(OUTLINE)
        if "does not compile" in u:
            return fix(u) if fix else "The method is described here in plain words without errors at all."
        return prose
    return fn


def digest(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


@pytest.fixture()
def stage2(tmp_path):
    return make_stage2(tmp_path / "ws")


def test_full_draft_compiles_with_real_cites_figure_table_and_no_fabrication(stage2, tmp_path):
    paper = tmp_path / "ws" / "writing" / "paper"
    w = WritingAgent(FunctionModel(responder()))
    d = w.write(paper_dir=paper, **stage2)
    assert d.compiled and Path(d.pdf_path).exists(), d.problems
    assert d.problems == []
    names = [s.name for s in d.sections]
    assert names == ["introduction", "related_work", "method", "experimental_setup", "results",
                     "limitations", "conclusion", "provenance"]  # the provenance appendix last
    all_tex = d.abstract + "".join(s.latex for s in d.sections)
    assert "99.1" not in all_tex and "Smith" not in all_tex and "smith2019" not in all_tex
    assert "4.2" not in all_tex and "0.965 while logistic regression reaches 0.947" in all_tex
    assert set(d.bib_keys) and set(d.bib_keys) <= {"arxiv2307_01932", "arxiv2406_01494", "arxiv2403_09548"}  # relevant only
    results = next(s.latex for s in d.sections if s.name == "results")
    assert "\\begin{tabular}" in results and "figures/fig1.png" in results
    assert (paper / "figures" / "fig1.png").exists()
    checks = json.loads((paper / "checks.json").read_text())
    assert checks["numbers"] and all(f["action"] == "matched" for f in checks["numbers"])
    assert checks["unknown_cite_keys"] == [] and checks["bib_problems"] == []
    found = [e for e in w.events if e.step == "section:introduction"][0].detail["check_findings"]
    assert any("'4.2'" in f and "removed" in f for f in found)
    assert any("Smith" in f for f in found) and any("smith2019" in f for f in found)
    assert d.title == "Label Smoothing Helps Boosted Trees"


@pytest.mark.parametrize("bad", ["", "这是一个关于梯度提升树的段落。" * 5, "data data data data " * 20,
                                 "```python\nimport os\ndef f(): pass\n```"])
def test_unusable_model_text_falls_back_to_artifacts(stage2, tmp_path, bad):
    w = WritingAgent(FunctionModel(lambda msgs: bad))
    d = w.write(paper_dir=tmp_path / "paper", **stage2)
    assert d.compiled, d.problems
    outcomes = [e.outcome for e in w.events if e.step.startswith("section:")]
    assert outcomes and all(o.startswith("fallback") for o in outcomes)
    assert [e.outcome for e in w.events if e.step == "outline"][0] != "model"
    related = next(s.latex for s in d.sections if s.name == "related_work")
    assert cited_keys(related) and "has set out to" in related  # themed, relevant records only


def test_journal_format(stage2, tmp_path):
    stage2["profile"] = stage2["profile"].model_copy(update={"paper_format": "journal"})
    d = WritingAgent(FunctionModel(responder())).write(paper_dir=tmp_path / "paper", **stage2)
    assert d.compiled and "\\maketitle" in (tmp_path / "paper" / "paper.tex").read_text()


def inject(w, d, name="method"):
    w.state.prose[name] += "\n\nBroken \\undefinedmacro{x} and $\\alpha_{$ math."
    sec = next(s for s in d.sections if s.name == name)
    sec.latex = w._assemble(name)


def test_injected_latex_error_is_fixed_by_the_model(stage2, tmp_path):
    w = WritingAgent(FunctionModel(responder()), Budgets(latex_fix_attempts=2))
    d = w.write(paper_dir=tmp_path / "paper", **stage2)
    inject(w, d)
    d = w.finalize(d)
    assert d.compiled
    assert [h["ok"] for h in w.compile_history[-2:]] == [False, True]
    assert w.compile_history[-1]["section"] == "method"
    assert any(e.step == "latex_fix:method" and e.action == "model fix" for e in w.events)


def test_broken_model_fix_is_sanitized_deterministically(stage2, tmp_path):
    fix = lambda u: "Still broken \\anotherundefined{y} text for the method section here."  # noqa: E731
    w = WritingAgent(FunctionModel(responder(fix=fix)), Budgets(latex_fix_attempts=2))
    d = w.write(paper_dir=tmp_path / "paper", **stage2)
    inject(w, d)
    d = w.finalize(d)
    assert d.compiled, d.problems
    assert [e.action for e in w.events if e.step == "latex_fix:method"] == ["model fix", "sanitized"]


def test_failing_final_retry_keeps_the_previous_good_pdf(stage2, tmp_path):
    fix = lambda u: "Still broken \\anotherundefined{y} text for the method section here."  # noqa: E731
    w = WritingAgent(FunctionModel(responder(fix=fix)), Budgets(latex_fix_attempts=1))
    d = w.write(paper_dir=tmp_path / "paper", **stage2)
    good = digest(d.pdf_path)
    inject(w, d)
    d = w.finalize(d)
    assert not d.compiled and d.pdf_path and digest(d.pdf_path) == good
    assert any("previous PDF kept" in p for p in d.problems)
    assert "Undefined control sequence" in " ".join(d.problems)


def test_route_requests():
    r = route_requests(["results: add significance", "Cite more related papers", "The abstract is vague",
                        "something unrelated"])
    assert r == {"results": ["add significance"], "related_work": ["Cite more related papers"],
                 "abstract": ["The abstract is vague"]}


def test_fabricated_table_number_blocks_the_paper(stage2, tmp_path):
    w = WritingAgent(FunctionModel(responder()))
    d = w.write(paper_dir=tmp_path / "paper", **stage2)
    good = digest(d.pdf_path)
    res = next(s for s in d.sections if s.name == "results")
    assert "logistic\\_regression & 0.947 $\\pm$ 0.009" in res.latex
    res.latex = res.latex.replace("logistic\\_regression & 0.947", "logistic\\_regression & 0.991")
    d = w.finalize(d)
    assert not d.compiled and digest(d.pdf_path) == good
    assert any("unmatched number" in p and "0.991" in p for p in d.problems)
    checks = json.loads((tmp_path / "paper" / "checks.json").read_text())
    (bad,) = [f for f in checks["numbers"] if f["action"] == "blocked"]
    assert bad["section"] == "results" and bad["text"] == "0.991"


def test_untraceable_number_in_prose_loses_its_sentence_and_the_paper_still_compiles(stage2, tmp_path):
    w = WritingAgent(FunctionModel(responder()))
    d = w.write(paper_dir=tmp_path / "paper", **stage2)
    intro = next(s for s in d.sections if s.name == "introduction")
    intro.latex += " We also observed an accuracy of 0.991 on a held-out set. The data are small."
    d = w.finalize(d)
    assert d.compiled and not any("unmatched number" in p for p in d.problems), d.problems
    intro = next(s for s in d.sections if s.name == "introduction")
    assert "0.991" not in intro.latex and "The data are small." in intro.latex
    assert any(e.step == "final_check" and e.outcome == "introduction" for e in w.events)


def test_analysis_figure_paths_resolve_from_the_experiment_folder(stage2, tmp_path):
    # the analysis agent writes figure paths relative to the experiment phase folder
    from actors.writing_build import _find_source
    from nanoresearch.types import FigureRef

    w = WritingAgent(FunctionModel(responder()))
    d = w.write(paper_dir=tmp_path / "ws" / "writing" / "paper", **stage2)
    assert d.compiled
    for path in ("figures/accuracy.png", "experiment/figures/accuracy.png"):
        src = _find_source(FigureRef(path=path, label="f", caption=""), w.inputs, tmp_path / "elsewhere")
        assert src is not None and src.name == "accuracy.png"


def test_setup_names_only_the_datasets_that_ran(stage2, tmp_path):
    from nanoresearch.types import DatasetSpec

    bp = stage2["blueprint"]
    stage2 = {**stage2, "blueprint": bp.model_copy(update={"datasets": [*bp.datasets, DatasetSpec(name="diabetes")]})}
    w = WritingAgent(FunctionModel(responder()))
    d = w.write(paper_dir=tmp_path / "paper", **stage2)
    assert d.compiled
    setup = next(s for s in d.sections if s.name == "experimental_setup").latex
    assert "breast" in setup and "diabetes" not in setup
    assert w.inputs.datasets_not_run == ["diabetes"]
    assert "Planned but not run: diabetes." in w.inputs.facts("limitations")
