"""Evidence extraction on real abstract sentences (copied from the arXiv corpus), and the
rule that a number without a literal source span never becomes evidence."""
from __future__ import annotations

import pytest

from nanoresearch.evidence import EvidenceExtractor, extract_llm, extract_rule, grounded, split_sentences
from nanoresearch.llm.scripted import ScriptedModel
from nanoresearch.types import LiteratureRecord

REAL = {
    "smote": ("After SMOTE-Tomek augmentation, performance improved significantly: RF achieved up "
              "to 88.9% accuracy, 90.0% F1-score, and 94.6% AUC, while SVM reached 81.1% accuracy, "
              "83.1% F1-score, and 93.6% AUC."),
    "aucroc": ("The proposed framework achieves an area under the receiver operating characteristic "
               "curve (AUC-ROC) of 0.969 and an accuracy of 0.9486 for LDH detection."),
    "deberta": ("The proposed ModifiedDeBERTa + GBLS model achieved good performance on four English "
                "datasets: 79.3\\% accuracy on HateXplain, 95.41\\% accuracy on SOSNet, 91.37\\% "
                "accuracy on Mendeley-I, and 94.67\\% accuracy on Mendeley-II."),
    "f1pp": ("Experimental results show that our method notably improves detection performance, "
             "increasing the F1-score by up to 13.29 percentage points compared to the baseline."),
    "none": "Buildings account for 40% of global energy consumption.",
}


def rec(text: str, pid: str = "arxiv:2501.00001") -> LiteratureRecord:
    return LiteratureRecord(id=pid, title="A paper", abstract=text)


def tuples(text):
    return [(e.method, e.dataset, e.metric, e.value, e.setting) for e in extract_rule(rec(text))]


def test_scores_with_methods_per_clause():
    got = tuples(REAL["smote"])
    assert ("RF", "", "accuracy", 88.9, "score, %") in got
    assert ("SVM", "", "AUC", 93.6, "score, %") in got
    assert len(got) == 6


def test_metric_of_value_and_dataset():
    got = tuples(REAL["aucroc"])
    assert [(g[1], g[2], g[3]) for g in got] == [("LDH", "AUC-ROC", 0.969), ("LDH", "accuracy", 0.9486)]


def test_value_then_metric_on_dataset():
    got = tuples(REAL["deberta"])
    assert [(g[0], g[1], g[3]) for g in got] == [
        ("ModifiedDeBERTa + GBLS", "HateXplain", 79.3), ("ModifiedDeBERTa + GBLS", "SOSNet", 95.41),
        ("ModifiedDeBERTa + GBLS", "Mendeley-I", 91.37),
        ("ModifiedDeBERTa + GBLS", "Mendeley-II", 94.67)]


def test_improvement_and_reduction_phrasings():
    assert tuples(REAL["f1pp"]) == [("", "", "F1-score", 13.29, "improvement, percentage points")]
    text = ("We propose FooNet, a sparse model. Our model improves BLEU by 2.1 on WMT14 and "
            "reduces error by 15% on ImageNet. It achieves an F1 = 0.81 on CoNLL-2003.")
    assert tuples(text) == [("FooNet", "WMT14", "BLEU", 2.1, "improvement"),
                            ("FooNet", "ImageNet", "error", 15.0, "reduction, %"),
                            ("FooNet", "CoNLL-2003", "F1", 0.81, "score")]


def test_numbers_without_metric_are_not_evidence():
    assert tuples(REAL["none"]) == []


def test_every_rule_evidence_has_its_sentence_as_span():
    text = " ".join(REAL.values())
    evs = extract_rule(rec(text))
    assert len(evs) == 13
    for e in evs:
        assert e.span in text and e.span in split_sentences(text)
        assert grounded(f"{e.value:g}", e.span, text) or str(e.value) in e.span
        assert e.paper_id == "arxiv:2501.00001" and e.extractor == "rule"
    assert len({e.id for e in evs}) == len(evs)
    assert [e.id for e in extract_rule(rec(text))] == [e.id for e in evs]  # stable ids


def test_grounded_needs_whole_number_token():
    assert grounded("88.9", "up to 88.9% accuracy", "x up to 88.9% accuracy")
    assert not grounded("8.9", "up to 88.9% accuracy", "up to 88.9% accuracy")
    assert not grounded("88", "up to 88.9% accuracy", "up to 88.9% accuracy")


def test_llm_path_keeps_only_literal_numbers():
    text = ("Our system reaches a win rate of seventy percent. It scores 4.7 on the MT-Bench "
            "judge scale. Latency is low.")
    llm = ScriptedModel(['{"items": [{"metric": "MT-Bench score", "value": "4.7", '
                         '"dataset": "MT-Bench", "method": "our system"}, '
                         '{"metric": "win rate", "value": "70", "dataset": "", "method": ""}]}'])
    evs = extract_llm(rec(text), llm)
    assert len(evs) == 1
    e = evs[0]
    assert (e.value, e.extractor, e.span) == (4.7, "llm", "It scores 4.7 on the MT-Bench judge scale.")


def test_llm_garbage_yields_nothing():
    llm = ScriptedModel(["I cannot do that", "still no json"])
    assert extract_llm(rec("It scores 4.7 on a scale."), llm, retries=1) == []


@pytest.mark.parametrize("mode,text,calls", [
    ("fallback", REAL["smote"], 0),       # rules found evidence: no model call
    ("fallback", "It scores 4.7 on the judge scale.", 1),
    ("fallback", "No numbers in this abstract at all.", 0),
    ("rules", "It scores 4.7 on the judge scale.", 0),
])
def test_extractor_modes(mode, text, calls):
    llm = ScriptedModel(['{"items": []}'], cycle_last=True)
    ex = EvidenceExtractor(llm, mode=mode)
    ex.extract(rec(text))
    assert ex.llm_calls == calls
