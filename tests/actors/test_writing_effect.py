"""cv_02's question, written up: "Does one-pixel shift augmentation improve the accuracy of
an RBF-kernel SVM and a random forest?" is answered per method (the factor's effect on
each), not by whether the best method changes; the title asks the question."""
import json
import shutil
import sys
from pathlib import Path

import pytest

from actors.planning_design import apply_design, derive_design
from actors.writing import WritingAgent
from nanoresearch.latex.prose import repeated_sentences
from nanoresearch.llm.scripted import FunctionModel
from nanoresearch.types import (AnalysisReport, Blueprint, DatasetCard, DatasetSpec, Hypothesis, MethodSpec,
                                MetricRecord, ResearchTopic, UserProfile)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "latex"))
from stage2_fixture import literature  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk not installed")
Q = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "tasks" / "cv_02.json").read_text())
TOPIC = ResearchTopic(problem_statement=Q["problem_statement"], background=Q["background"], domain="CV",
                      datasets=["digits"])
# augmentation helps the SVM, hurts the forest
ACC = {"SVM without shift augmentation": [0.981, 0.983, 0.979], "SVM with shift augmentation": [0.990, 0.991, 0.989],
       "random forest without shift augmentation": [0.972, 0.970, 0.974],
       "random forest with shift augmentation": [0.961, 0.963, 0.960]}


def _model(msgs):
    if "JSON schema" in msgs[-1].content:
        return json.dumps({"title": "Augmentation for Classifiers", "key_message": "x", "points": []})
    return "Shift augmentation is studied here."


def test_an_effect_question_is_answered_per_method(tmp_path):
    bp = Blueprint(title="Augmentation for Classifiers", domain="cv", datasets=[DatasetSpec(name="digits")],
                   baselines=[], proposed_method=MethodSpec(name="x"), metrics=["accuracy"],
                   primary_metric="accuracy", design=derive_design(TOPIC))
    apply_design(bp, TOPIC)
    metrics = [MetricRecord(method=m, dataset="digits", metric="accuracy", value=v, seed=s)
               for m, vals in ACC.items() for s, v in enumerate(vals)]
    card = DatasetCard(name="digits", domain="cv", task="classification", source="sklearn", size="1797 images",
                       n_samples=1797, targets="10 digits")
    d = WritingAgent(FunctionModel(_model)).write(
        paper_dir=tmp_path / "paper", topic=TOPIC, profile=UserProfile(user_id="u", paper_format="conference"),
        hypothesis=Hypothesis(statement="Shift augmentation improves both classifiers."), blueprint=bp,
        papers=literature(), analysis=AnalysisReport(summary="s", verdict="inconclusive"), runs_metrics=metrics,
        cards=[card], workspace_root=tmp_path)
    assert d.compiled, d.problems
    assert d.title == "Does Shift Augmentation Improve SVM and Random Forest on Digits?"
    res = {s.name: s.latex for s in d.sections}["results"]
    assert ("On digits, shift augmentation raises the mean accuracy of SVM from 0.981 to 0.990 and lowers "
            "the mean accuracy of random forest from 0.972 to 0.961.") in res
    assert "We find that shift augmentation improves SVM but not random forest in mean accuracy on digits." \
        in d.abstract
    assert "shifted by one pixel up, down, left and right" in {s.name: s.latex for s in d.sections}["method"]
    body = [d.abstract, *(s.latex for s in d.sections if s.name != "provenance")]
    assert repeated_sentences(body) == []
