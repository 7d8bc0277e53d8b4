"""Related work: the relevance threshold calibrated on a hand-labelled set of records
from the offline library (relevance_labels.json, default topic of the main job), and the
rule that an incomplete reference is omitted."""
from __future__ import annotations

import json
from pathlib import Path

from actors.writing_related import (THRESHOLD, complete_reference, score_records, select_citable,
                                    study_groups, themes)
from nanoresearch.types import LiteratureRecord

LABELS = json.loads((Path(__file__).parent / "relevance_labels.json").read_text())
METHODS = ["k-NN", "SVM", "logistic regression"]


def _records():
    return [LiteratureRecord(id=f"arxiv:{r['arxiv_id']}", title=r["title"], abstract=r["abstract"],
                             authors=["A. Author"], year=2025, url=f"https://arxiv.org/abs/{r['arxiv_id']}")
            for r in LABELS["records"]], {f"arxiv:{r['arxiv_id']}": r["relevant"] for r in LABELS["records"]}


def _groups():
    return study_groups(LABELS["query"], METHODS, ["breast_cancer classification"], "standardisation")


def test_threshold_separates_the_labelled_set():
    recs, label = _records()
    scored = score_records(_groups(), recs)
    above = [s for s in scored if s.score >= THRESHOLD]
    tp = sum(label[s.record.id] for s in above)
    precision, recall = tp / max(1, len(above)), tp / sum(label.values())
    # measured at calibration: precision 0.50 (3 of 6), recall 0.43 (3 of 7) on 24 records; the
    # clearly unrelated records (cyclones, sparse autoencoders, Romanian maths) stay out
    assert precision >= 0.5 and recall >= 0.4, (precision, recall)
    out = {s.record.title.split(":")[0] for s in scored if s.score < THRESHOLD}
    assert {"HurriCast", "Composite Code Sparse Autoencoders for first stage retrieval", "RoMath"} <= out


def test_incomplete_references_are_omitted():
    recs, _ = _records()
    broken = recs[0].model_copy(update={"authors": [], "id": "local:x", "url": ""})
    assert complete_reference(recs[0]) and not complete_reference(broken)
    cited, counts = select_citable(_groups(), [broken, *recs[1:]], threshold=0.0)
    assert broken.id not in {s.record.id for s in cited} and counts["incomplete_reference"] == 1


def test_cited_work_is_grouped_in_themes():
    recs, label = _records()
    groups = themes([r for r in recs if label[r.id]])
    names = [g[0] for g in groups]
    assert "preprocessing" in names and len(groups) < sum(label.values())
