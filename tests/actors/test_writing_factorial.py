"""The main job's question, written up: a factorial design (k-NN, SVM, logistic regression x
without/with standardisation) gives a paper whose title, abstract, method and results are
true to what ran, with the ranking per condition and its change, each sentence once, no
filler or internal text in the body, and a provenance record + appendix."""
import json
import shutil
import statistics
import sys
from pathlib import Path

import pytest

from actors.planning_design import apply_design, derive_design
from actors.writing import WritingAgent
from nanoresearch.latex.prose import filler_reason, leak_reason, repeated_sentences, split_sentences
from nanoresearch.llm.scripted import FunctionModel
from nanoresearch.types import (AnalysisReport, Blueprint, Comparison, DatasetCard, DatasetSpec, Hypothesis,
                                MethodSpec, MetricRecord, ResearchTopic, UserProfile)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "latex"))
from stage2_fixture import literature  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")
TOPIC = ResearchTopic(problem_statement="Does feature standardisation change which classifier (k-NN, SVM, "
                      "logistic regression) is best for breast-cancer diagnosis?", domain="tabular",
                      datasets=["breast_cancer"])
# unscaled, k-NN suffers (distances dominated by large features) and logistic regression leads;
# standardised, SVM leads
ACC = {"k-NN without standardisation": [0.92, 0.93, 0.91], "k-NN with standardisation": [0.96, 0.965, 0.955],
       "SVM without standardisation": [0.91, 0.92, 0.915], "SVM with standardisation": [0.975, 0.98, 0.972],
       "logistic regression without standardisation": [0.945, 0.95, 0.94],
       "logistic regression with standardisation": [0.97, 0.975, 0.968]}


def _inputs(root: Path) -> dict:
    bp = Blueprint(title="Feature standardisation and Decision Trees", domain="tabular",
                   datasets=[DatasetSpec(name="breast_cancer")], baselines=[],
                   proposed_method=MethodSpec(name="x"), metrics=["accuracy"], primary_metric="accuracy",
                   design=derive_design(TOPIC))
    apply_design(bp, TOPIC)
    metrics = [MetricRecord(method=m, dataset="breast_cancer", metric="accuracy", value=v, seed=s)
               for m, vals in ACC.items() for s, v in enumerate(vals)]
    ours = ACC[bp.proposed_method.name]
    comps = [Comparison(method=bp.proposed_method.name, baseline=b.name, dataset="breast_cancer", metric="accuracy",
                        mean=statistics.fmean(ours), baseline_mean=statistics.fmean(ACC[b.name]), n_seeds=3,
                        delta=statistics.fmean(ours) - statistics.fmean(ACC[b.name])) for b in bp.baselines]
    analysis = AnalysisReport(summary="summary: deterministic (model summary rejected: cites no result)",
                              comparisons=comps, verdict="refuted",
                              notes=["verdict refuted: worse than the best baseline"])
    card = DatasetCard(name="breast_cancer", domain="tabular", task="classification", source="sklearn",
                       size="569 samples x 30 features", n_samples=569, targets="malignant / benign")
    return dict(topic=TOPIC, profile=UserProfile(user_id="u1", paper_format="conference"),
                hypothesis=Hypothesis(statement="Standardisation changes which classifier is best."),
                blueprint=bp, papers=literature(), analysis=analysis, runs_metrics=metrics, cards=[card],
                workspace_root=root)


def _model(msgs):  # the embedded model's typical answer: filler and internal words
    if "JSON schema" in msgs[-1].content:
        return json.dumps({"title": "Decision Trees for Feature-Based Decision-Making", "key_message": "x",
                           "points": []})
    return ("Feature-based decision-making is a method that uses data analysis to make decisions based on "
            "data analysis. The verdict refuted: worse than the best baseline.")


def test_factorial_paper_answers_the_question(tmp_path):
    d = WritingAgent(FunctionModel(_model)).write(paper_dir=tmp_path / "paper", **_inputs(tmp_path))
    assert d.compiled, d.problems
    assert "Decision" not in d.title and "Standardisation" in d.title and "SVM" in d.title
    secs = {s.name: s.latex for s in d.sections}
    results = secs["results"]
    assert "without standardisation, the ranking by mean accuracy is logistic regression" in results
    assert "with standardisation, the ranking by mean accuracy is SVM" in results
    assert "changes from logistic regression to SVM" in results and "paired t-test" in results
    assert "zero mean and unit variance" in secs["method"]
    body = [d.abstract, *(v for k, v in secs.items() if k != "provenance")]
    assert repeated_sentences(body) == []
    sentences = [s for t in body for s in split_sentences(t)]
    assert not [s for s in sentences if leak_reason(s) or filler_reason(s)]
    prov = json.loads((tmp_path / "paper" / "provenance.json").read_text())
    assert prov["sections"]["results"].startswith("artifact-built") and prov["verdict"] == "refuted"
    assert "verdict refuted: worse than the best baseline" in prov["analysis_notes"]
    assert "Provenance" in (tmp_path / "paper" / "sections" / "provenance.tex").read_text()
