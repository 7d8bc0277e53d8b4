"""Analysis agent on synthetic MetricRecords with known properties."""
import json

from actors.analysis import AnalysisAgent, check_summary, compare
from nanoresearch.llm.scripted import ScriptedModel
from nanoresearch.types import Blueprint, DatasetSpec, MethodSpec, MetricRecord, RunResult, RunStatus


def bp(primary="accuracy"):
    return Blueprint(title="t", datasets=[DatasetSpec(name="d1")], baselines=[MethodSpec(name="Base")],
                     proposed_method=MethodSpec(name="Ours"), metrics=[primary], primary_metric=primary,
                     ablations=[MethodSpec(name="Ours w/o trick")])


def runs_from(values: dict[str, list[float]], metric="accuracy", datasets=("d1",)):
    recs = [MetricRecord(method=m, dataset=ds, metric=metric, value=v, seed=s)
            for ds in datasets for m, vs in values.items() for s, v in enumerate(vs)]
    return [RunResult(status=RunStatus.SUCCEEDED, metrics=recs)]


def test_method_that_loses_is_refuted_with_figures(tmp_path):
    runs = runs_from({"Base": [0.90, 0.91, 0.92, 0.90], "Ours": [0.80, 0.82, 0.81, 0.79],
                      "Ours w/o trick": [0.7, 0.71, 0.72, 0.7]})
    rep = AnalysisAgent(None).analyze(bp(), runs, tmp_path)
    assert rep.verdict == "refuted"
    main = [c for c in rep.comparisons if c.baseline == "Base"][0]
    assert main.delta < 0 and main.p_value is not None and main.p_value < 0.01 and main.n_seeds == 4
    assert any(c.baseline == "Ours w/o trick" for c in rep.comparisons)
    for f in rep.figures:
        assert (tmp_path / f.path).exists() and (tmp_path / f.path).with_suffix(".png").exists()
    assert rep.figures and "refuted" in rep.summary
    assert json.loads((tmp_path / "analysis.json").read_text())["verdict"] == "refuted"


def test_significant_win_is_supported_and_lower_is_better_respected(tmp_path):
    runs = runs_from({"Base": [2.0, 2.1, 2.2], "Ours": [1.0, 1.1, 1.05]}, metric="rmse")
    rep = AnalysisAgent(None).analyze(bp("RMSE"), runs, tmp_path)
    assert rep.verdict == "supported"


def test_few_seeds_or_noise_is_inconclusive(tmp_path):
    rep = AnalysisAgent(None).analyze(bp(), runs_from({"Base": [0.8, 0.9], "Ours": [0.85, 0.95]}), tmp_path / "a")
    assert rep.verdict == "inconclusive" and rep.comparisons[0].p_value is None
    noisy = {"Base": [0.80, 0.85, 0.75, 0.82], "Ours": [0.83, 0.80, 0.79, 0.84]}  # higher mean, p ~ 0.6
    rep = AnalysisAgent(None).analyze(bp(), runs_from(noisy), tmp_path / "b")
    c = rep.comparisons[0]
    assert c.delta > 0 and c.p_value > 0.05 and rep.verdict == "inconclusive"


def test_p_values_paired_and_welch():
    c = compare("a", "b", "d", "acc", {0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.5, 1: 1.6, 2: 2.4})
    from scipy import stats
    assert abs(c.p_value - stats.ttest_rel([1, 2, 3], [0.5, 1.6, 2.4]).pvalue) < 1e-12
    w = compare("a", "b", "d", "acc", {0: 1.0, 1: 2.0, 2: 3.0}, {5: 0.5, 6: 1.6, 7: 2.4})
    assert abs(w.p_value - stats.ttest_ind([1, 2, 3], [0.5, 1.6, 2.4], equal_var=False).pvalue) < 1e-12


def test_llm_summary_checked(tmp_path):
    runs = runs_from({"Base": [0.90, 0.91, 0.92], "Ours": [0.80, 0.82, 0.81]})
    liar = ScriptedModel(['{"summary": "Ours outperforms Base with 99.9% accuracy."}'])
    rep = AnalysisAgent(liar).analyze(bp(), runs, tmp_path / "a")
    assert "99.9" not in rep.summary and any("rejected" in n for n in rep.notes)
    honest = ScriptedModel(['{"summary": "Ours reached 0.81 and lost to Base (0.91), delta -0.1."}'])
    rep = AnalysisAgent(honest).analyze(bp(), runs, tmp_path / "b")
    assert rep.summary.startswith("Ours reached 0.81") and any("model-written" in n for n in rep.notes)


def test_check_summary_rejects_unsupported_win_claims_and_empty_text():
    c = compare("a", "b", "d", "acc", {0: 0.5, 1: 0.6, 2: 0.55}, {0: 0.5, 1: 0.6, 2: 0.56})
    assert check_summary("Method a clearly outperforms b with 0.55 accuracy on d.", [c], "inconclusive")
    assert check_summary("Method a does not outperform b: 0.55 vs 0.5533 on d.", [c], "inconclusive") is None
    assert check_summary("SummaryOut", [c], "inconclusive") == "too short to be a summary"
    assert check_summary("The method a was compared against b on d today.", [c], "inconclusive") == "cites no result"


def test_runs_without_metrics_are_noted(tmp_path):
    runs = runs_from({"Base": [0.9, 0.9, 0.9], "Ours": [0.95, 0.96, 0.97]}) + \
        [RunResult(status=RunStatus.FAILED)]
    rep = AnalysisAgent(None).analyze(bp(), runs, tmp_path)
    assert any("no metrics" in n for n in rep.notes) and rep.verdict == "supported"
