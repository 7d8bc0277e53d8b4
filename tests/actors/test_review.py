"""Review ensemble + meta-review with scripted reviewers; deterministic checks lower the
scores with reasons; the revision loop stops at the threshold or the round limit."""
import json
import shutil
import sys
from pathlib import Path

import pytest

from nanoresearch.config import Budgets
from nanoresearch.llm.scripted import FunctionModel, ScriptedModel
from nanoresearch.types import PaperDraft, Review, Section

from actors.review import ReviewAgent
from actors.writing import WritingAgent
from actors.writing_revise import revise_loop

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "latex"))
from stage2_fixture import make_stage2  # noqa: E402


def review_json(overall, sub=None, conf=4, requests=("results: discuss the p-values",)):
    sub = overall if sub is None else sub
    return {"summary": "A small study of label smoothing for boosted trees.", "strengths": ["clear"], "weaknesses": ["one dataset"],
            "questions": ["why?"], "soundness": sub, "presentation": sub, "contribution": sub,
            "overall": overall, "confidence": conf, "revision_requests": list(requests)}


def good_draft(tmp_path):
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.5 test")
    table = "\\begin{table}\\begin{tabular}{lc} a & 0.9 \\\\ \\end{tabular}\\end{table}"
    words = " ".join(["word"] * 20)
    cites = "\\citep{a,b,c}"
    return PaperDraft(title="T", abstract="An abstract.", compiled=True, pdf_path=str(pdf),
                      sections=[Section(name="introduction", latex=words + cites),
                                Section(name="results", latex=words + table)])


def test_ensemble_and_meta(tmp_path):
    llm = ScriptedModel([review_json(7, conf=5), review_json(5, conf=1, requests=("method: explain",))])
    reviews = ReviewAgent(llm, n_reviewers=2).review(good_draft(tmp_path), tmp_path, round=2)
    assert [r.is_meta for r in reviews] == [False, False, True]
    meta = reviews[-1]
    assert meta.reviewer_id == "meta" and meta.round == 2
    assert meta.overall == round((7 * 5 + 5 * 1) / 6)  # confidence-weighted
    assert meta.revision_requests == ["results: discuss the p-values", "method: explain"]
    assert all(isinstance(r, Review) for r in reviews)


def test_lenient_overall_is_capped_by_the_sub_scores(tmp_path):
    r = ReviewAgent(ScriptedModel([review_json(10, sub=5)]), n_reviewers=1).review(good_draft(tmp_path))[0]
    assert r.overall == 6


def test_deterministic_checks_lower_scores_with_reasons(tmp_path):
    bad = PaperDraft(title="T", abstract="", compiled=False,
                     sections=[Section(name="results", latex="Too short."), Section(name="method", latex="")])
    (tmp_path / "checks.json").write_text(json.dumps({"numbers": [{"action": "blocked"}, {"action": "matched"}]}))
    llm = ScriptedModel([review_json(8)])
    r, meta = ReviewAgent(llm, n_reviewers=1, min_citations=3).review(bad, tmp_path)
    assert r.overall == 1 and r.soundness == 1
    text = " ".join(r.weaknesses)
    for reason in ("does not compile", "No results table", "1 number(s) do not trace", "Only 0 cited",
                   "Section abstract is empty"):
        assert reason in text, reason
    assert meta.revision_requests[0] == "results: fix the LaTeX so that the paper compiles"


def test_unusable_model_review_falls_back(tmp_path):
    agent = ReviewAgent(ScriptedModel(["not json at all"], cycle_last=True), n_reviewers=2, retries=1)
    reviews = agent.review(good_draft(tmp_path))
    assert len(reviews) == 3 and agent.paths[0].startswith("fallback")
    assert reviews[0].confidence == 1


@pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")
@pytest.mark.parametrize("scores,rounds,expect_reviews,expect_revisions,stop", [
    ([8], 2, 1, 0, "threshold"),
    ([3, 4, 7], 3, 3, 2, "threshold"),
    ([3, 4, 3], 2, 3, 2, "round limit"),
])
def test_revision_loop_stops(tmp_path, scores, rounds, expect_reviews, expect_revisions, stop):
    kw = make_stage2(tmp_path / "ws")
    paper = tmp_path / "paper"
    prose = ("Gradient boosted trees are strong on tabular data [1]. Label smoothing raises the accuracy "
             "to 0.965 while logistic regression reaches 0.947 [2]. This matters for small data sets.")
    writer = WritingAgent(FunctionModel(lambda m: json.dumps({"title": "A Title Here", "key_message": "k",
                                                              "points": []})
                                        if "JSON schema" in m[-1].content else prose))
    draft = writer.write(paper_dir=paper, **kw)
    it = iter(scores)
    reviewer = ReviewAgent(FunctionModel(lambda m: json.dumps(review_json(next(it)))), n_reviewers=1)
    budgets = Budgets(review_rounds=rounds, review_threshold=6)
    res = revise_loop(writer, reviewer, draft, paper, budgets)
    metas = [r for r in res.reviews if r.is_meta]
    assert len(metas) == expect_reviews and res.rounds == expect_revisions
    hist = json.loads((paper / "revision_history.json").read_text())
    assert [h["meta"]["overall"] for h in hist["rounds"]] == [m.overall for m in metas]
    assert stop in hist["rounds"][-1]["stop"]
    assert (paper / "reviews" / f"round_{expect_reviews}.json").exists()
    assert hist["best_round"] == max(hist["rounds"], key=lambda h: (h["meta"]["overall"], h["round"]))["round"]
    assert res.pdf_path and Path(res.pdf_path).exists()
    if expect_revisions:
        assert [e for e in writer.events if e.step == "revise"]


def test_empty_json_is_not_a_review_and_requests_are_never_empty(tmp_path):
    agent = ReviewAgent(ScriptedModel(["{}"], cycle_last=True), n_reviewers=1, retries=0)
    r, meta = agent.review(good_draft(tmp_path))
    assert agent.paths[0].startswith("fallback")
    assert meta.revision_requests  # derived from the weakest sub-score


def test_placeholder_review_is_not_trusted(tmp_path):
    placeholder = {"summary": "Summary of the review", "soundness": 1, "presentation": 1, "contribution": 1,
                   "overall": 1, "confidence": 1}
    agent = ReviewAgent(ScriptedModel([placeholder], cycle_last=True), n_reviewers=1, retries=0)
    r, _ = agent.review(good_draft(tmp_path))
    assert agent.paths[0].startswith("fallback") and r.overall == 5
