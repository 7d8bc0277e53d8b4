"""Related work: the relevance threshold calibrated on a hand-labelled set of records
from the offline library (relevance_labels.json: 80 records over 5 questions, the main
job's default topic and benchmark tasks tab_04, mm_02, ts_01, nlp_01), and the rule that
an incomplete reference is omitted."""
from __future__ import annotations

import json
from pathlib import Path

from actors.writing_related import (THRESHOLD, complete_reference, score_records, select_citable,
                                    study_groups, themes)
from nanoresearch.types import LiteratureRecord

LABELS = json.loads((Path(__file__).parent / "relevance_labels.json").read_text())
SETS = LABELS["sets"]
DEFAULT = SETS[0]
METHODS = DEFAULT["methods"]


def _records(s=DEFAULT):
    return [LiteratureRecord(id=f"arxiv:{r['arxiv_id']}", title=r["title"], abstract=r["abstract"],
                             authors=["A. Author"], year=2025, url=f"https://arxiv.org/abs/{r['arxiv_id']}")
            for r in s["records"]], {f"arxiv:{r['arxiv_id']}": r["relevant"] for r in s["records"]}


def _groups(s=DEFAULT):
    from nanoresearch.datasets import get_catalog

    cat = get_catalog()  # as the writer builds them: "<dataset> <task>"
    ds = [d if " " in d or d not in cat else f"{d} {cat[d].task}" for d in s["datasets"]]
    return study_groups(s["query"], s["methods"], ds, s["factor"])


def _scored():
    out = []
    for s in SETS:
        recs, label = _records(s)
        out += [(s["task"], x, label[x.record.id]) for x in score_records(_groups(s), recs)]
    return out


def _pr(scored, threshold):
    above = [x for x in scored if x[1].score >= threshold]
    tp = sum(lab for _, _, lab in above)
    return tp / max(1, len(above)), tp / max(1, sum(lab for _, _, lab in scored))


def test_labelled_set_is_large_enough():
    assert sum(len(s["records"]) for s in SETS) >= 60 and len(SETS) >= 4
    assert all(any(r["relevant"] for r in s["records"]) for s in SETS)


def test_threshold_is_calibrated_on_the_labelled_set():
    scored = _scored()
    precision, recall = _pr(scored, THRESHOLD)
    # measured at calibration (80 records, 26 relevant, 5 questions; retrieval's top hits, so the
    # base rate is 0.33): precision 0.52 (17 of 33), recall 0.65 (17 of 26); the threshold is the
    # F1 maximum over 0.20..0.40 in steps of 0.02
    assert precision >= 0.5 and recall >= 0.6, (precision, recall)
    f1 = {t / 100: (lambda p, r: 2 * p * r / max(1e-9, p + r))(*_pr(scored, t / 100)) for t in range(20, 41, 2)}
    assert f1[round(THRESHOLD, 2)] == max(f1.values()), f1
    base = sum(lab for *_, lab in scored) / len(scored)
    assert precision > base + 0.15  # better than citing everything retrieval returned
    # the clearly unrelated records of the default topic (cyclones, sparse autoencoders,
    # Romanian maths) stay out
    recs, _ = _records()
    out = {x.record.title.split(":")[0] for x in score_records(_groups(), recs) if x.score < THRESHOLD}
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
