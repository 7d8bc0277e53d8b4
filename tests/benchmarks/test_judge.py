from __future__ import annotations

import json

import pytest

from benchmarks.judge import effectiveness, judge_project
from benchmarks.judge_checks import Evidence, check_text
from nanoresearch.llm.scripted import ScriptedModel
from nanoresearch import artifacts as A
from nanoresearch.types import (
    Blueprint, CodeArtifact, DatasetSpec, MethodSpec, MetricRecord, PaperDraft, PlanningResult,
    ResearchTopic, Review, RunResult, RunsRecord, RunStatus, Section, WritingResult,
)
from nanoresearch.workspace import Workspace

TOPIC = ResearchTopic(question_id="t1", problem_statement="q", domain="tabular",
                      user_requirements=["3 seeds", "include an ablation", "efficiency analysis",
                                         "journal format"])
RESULTS = ("\\section{Results} The method reaches $0.90 \\pm 0.01$ accuracy over 3 seeds. "
           "\\begin{table}\\caption{Fit time per run}\\begin{tabular}{lr} m & 1.3 s\\\\ lr & 0.4 s"
           "\\end{tabular}\\end{table}")


def _ws(tmp_path, *, pdf: bool, problems=(), ablation_ran=True, sections=RESULTS, baseline_ran=True):
    ws = Workspace(tmp_path / "p")
    bp = Blueprint(title="t", datasets=[DatasetSpec(name="wine")], baselines=[MethodSpec(name="lr")],
                   proposed_method=MethodSpec(name="m"), metrics=["accuracy"],
                   primary_metric="accuracy", seeds=[0, 1, 2], ablations=[MethodSpec(name="m-no-x")])
    ws.write_json(A.PLANNING.path, PlanningResult(blueprint=bp, passed=True))
    methods = [("m", 0.9)] + ([("lr", 0.8)] if baseline_ran else []) + \
        ([("m-no-x", 0.85)] if ablation_ran else [])
    ms = [MetricRecord(method=m, dataset="wine", metric="accuracy", value=v, seed=s)
          for s in range(3) for m, v in methods]
    ws.write_json(A.RUNS.path, RunsRecord(code=CodeArtifact(files={"run.py": "print(1)"}), runs=[
        RunResult(status=RunStatus.SUCCEEDED, duration_s=12, metrics=ms)]))
    ws.write_json(A.WRITING.path, WritingResult(
        draft=PaperDraft(title="T", problems=list(problems),
                         sections=[Section(name="Results", latex=sections)] if sections else []),
        reviews=[Review(is_meta=True, overall=9)], pdf_path="writing/paper.pdf" if pdf else None))
    if pdf:
        ws.write_text(A.PAPER_PDF.path, "%PDF-1.5 fake")
    return ws.root


def test_e2e_needs_a_compiled_pdf_and_every_planned_run(tmp_path):
    j = judge_project(_ws(tmp_path / "a", pdf=False), TOPIC)
    assert j.executability == 0.0 and "no compiled PDF" in j.flags
    assert judge_project(_ws(tmp_path / "b", pdf=True), TOPIC).executability == 1.0
    j3 = judge_project(_ws(tmp_path / "c", pdf=True, baseline_ran=False), TOPIC)
    assert j3.executability == 0.0 and j3.details["planned_runs_missing"] == ["lr on wine"]


def test_fabrication_is_flagged_not_hidden(tmp_path):
    j = judge_project(_ws(tmp_path, pdf=True, problems=["unmatched number 97.3 in results"]), TOPIC)
    assert any("97.3" in f for f in j.flags)


def test_requirements_checked_against_runs_and_section_text(tmp_path):
    good = judge_project(_ws(tmp_path / "a", pdf=True), TOPIC)
    st = {v.text: v.status for v in good.requirements}
    assert st == {"3 seeds": "met", "include an ablation": "met", "efficiency analysis": "met",
                  "journal format": "unchecked"}
    assert good.compliance == 10.0 and good.details["requirements_unchecked"] == ["journal format"]
    # the ablation planned but never run, and no efficiency numbers in the text: unmet
    bad = judge_project(_ws(tmp_path / "b", pdf=True, ablation_ran=False,
                            sections="\\section{Results} Our method is efficient."), TOPIC)
    st = {v.text: v.status for v in bad.requirements}
    assert st["include an ablation"] == "unmet" and st["efficiency analysis"] == "unmet"
    assert bad.compliance == pytest.approx(10 / 3)


def test_a_package_line_is_not_an_efficiency_analysis():
    ev = Evidence(sections={"Preamble": "\\usepackage{times}"})
    assert check_text("efficiency analysis", ev).status == "unmet"


def test_alignment_is_the_share_of_checkable_preferences_met(tmp_path):
    prefs = ["report mean and std over seeds", "significance tests before claims",
             "an efficiency analysis (time and memory)", "elegant theory"]
    j = judge_project(_ws(tmp_path, pdf=True), TOPIC, preferences=prefs)
    st = [v.status for v in j.preferences]
    assert st == ["met", "unmet", "met", "unchecked"] and j.alignment == pytest.approx(2 / 3)


def test_rubric_failures_are_recorded_and_the_system_s_own_scores_ignored(tmp_path):
    ms = [MetricRecord(method="m", dataset="d", metric="mae", value=1.0),
          MetricRecord(method="b", dataset="d", metric="mae", value=2.0)]
    assert effectiveness(ms, "m", ["b"], "mae") == pytest.approx(0.5)
    assert effectiveness(ms, "m", ["b"], "accuracy") is None
    llm = ScriptedModel([json.dumps({"score": 6, "reason": "ok"})], cycle_last=True)
    j = judge_project(_ws(tmp_path / "a", pdf=True), TOPIC, llm=llm)
    assert j.compliance == pytest.approx(8.0) and j.effectiveness == pytest.approx(0.125)
    assert j.expression == 6.0 and j.innovation == 6.0  # the meta-review's 9 is not used
    assert j.judge_model == llm.name and j.rubric_failures == []
    broken = ScriptedModel(["no json here"], cycle_last=True)
    j2 = judge_project(_ws(tmp_path / "b", pdf=True), TOPIC, llm=broken)
    assert j2.innovation is None and j2.expression is None and len(j2.rubric_failures) == 3


def test_every_persona_preference_has_a_rule():
    from benchmarks.judge_checks import CATALOG
    from benchmarks.personas import load_personas

    unchecked = [p for persona in load_personas().values() for p in persona.preferences
                 if not any(rx.search(p.lower()) for rx, _, _ in CATALOG)]
    assert unchecked == []


def _ev(**kw) -> Evidence:
    methods, datasets = kw.pop("methods", ["m", "logistic regression"]), kw.pop("datasets", ["wine"])
    ms = [MetricRecord(method=m, dataset=d, metric="accuracy", value=0.8, seed=0) for m in methods for d in datasets]
    return Evidence(metrics=ms, **kw)


@pytest.mark.parametrize("pref,good,bad", [
    ("report the best configuration per dataset",
     dict(sections={"R": "On wine the best method is m (0.80)."}), dict(sections={"R": "m reaches 0.80 on wine."})),
    ("report the best configuration per dataset",  # the paper escapes "_" in a dataset's name
     dict(datasets=["breast_cancer"], sections={"R": "On breast\\_cancer, the best method is m (0.80)."}),
     dict(datasets=["breast_cancer"], sections={"R": "On breast\\_cancer, m reaches 0.80."})),
    ("methods that run on one CPU core", dict(cpus=1, runs=["succeeded"]), dict(cpus=4, runs=["succeeded"])),
    ("simple methods first", dict(), dict(methods=["m", "transformer"])),
    ("formal, measured writing", dict(sections={"R": "The method is 2 points better."}),
     dict(sections={"R": "A groundbreaking result!"})),
    ("a working experiment early", dict(runs=["succeeded", "failed"]), dict(runs=["failed", "succeeded"])),
    ("short papers", dict(sections={"R": "A short paper."}), dict(sections={"R": "word " * 3001})),
    ("iterate on the method quickly", dict(durations=[30.0], runs=["succeeded"]),
     dict(durations=[900.0], runs=["succeeded"])),
    ("worst-case metrics next to averages", dict(sections={"R": "The worst seed reaches 0.71."}),
     dict(sections={"R": "The mean is 0.80."})),
    ("a clear hypothesis with a mechanism",
     dict(sections={"I": "We hypothesise that scaling helps because distances become comparable."}),
     dict(sections={"I": "We hypothesise that scaling helps."})),
    ("structural baselines (label propagation, heuristics)", dict(methods=["m", "common neighbours"]), dict()),
    ("interpretable models", dict(), dict(methods=["m", "gradient boosting"])),
    # a test's value, not the word: "significantly better" is the claim the test must back
    ("significance tests before claims", dict(sections={"R": "m beats lr by 0.02 ($p = 0.012$, paired t-test)."}),
     dict(sections={"R": "m is significantly better than lr on 3 datasets."})),
    ("fixed seeds and stated splits",
     dict(sections={"R": "Every number is a mean over 3 seeds. The test split holds 25% of the rows."}),
     dict(sections={"R": "Every number is a mean over 3 seeds. Results are reproducible."})),
])
def test_the_new_preference_rules_can_pass_and_fail(pref, good, bad):
    assert check_text(pref, _ev(**good)).status == "met"
    assert check_text(pref, _ev(**bad)).status == "unmet"


def test_task_core_requirements_are_checked_and_every_clause_counts():
    """'single CPU core' was unchecked (the rule wanted 'one cpu core|single core') and in
    'single CPU core, under 10 minutes' only the first matching rule (duration) decided."""
    one = dict(cpus=1, runs=["succeeded"], durations=[300.0])
    assert check_text("single CPU core", _ev(**one)).status == "met"
    assert check_text("single CPU core", _ev(**dict(one, cpus=4))).status == "unmet"
    both = check_text("single CPU core, under 10 minutes", _ev(**one))
    assert both.status == "met" and both.rule == "one_core+duration"
    assert check_text("single CPU core, under 10 minutes", _ev(**dict(one, cpus=4))).status == "unmet"
    assert check_text("single CPU core, under 10 minutes", _ev(**dict(one, durations=[900.0]))).status == "unmet"
    # a comma inside one requirement that is not a list of checkable clauses keeps one rule
    assert check_text("MAE at horizons 1, 5 and 10", _ev()).rule == "metrics"


def test_robustness_needs_perturbed_runs_and_their_scores_in_the_text():
    from nanoresearch.types import MetricRecord
    said = {"Results": "Under gaussian noise (level 1) the mean accuracy falls from 0.91 to 0.84."}
    clean = [MetricRecord(method="svm", dataset="d", metric="accuracy", value=0.91, seed=0)]
    noisy = [*clean, MetricRecord(method="svm", dataset="d", metric="accuracy", value=0.84, seed=0,
                                  split="perturbed:gaussian noise (level 1)")]
    pref = "robustness to noise and shift"
    assert check_text(pref, Evidence(metrics=clean, sections=said)).status == "unmet"  # prose alone
    assert check_text(pref, Evidence(metrics=noisy, sections={"Results": "We study noise."})).status == "unmet"
    assert check_text(pref, Evidence(metrics=noisy, sections=said)).status == "met"


def test_seeds_are_counted_on_the_test_split_not_per_condition():
    from nanoresearch.types import MetricRecord
    one_seed = [MetricRecord(method="svm", dataset="d", metric="accuracy", value=0.9, seed=0, split=sp)
                for sp in ("test", "perturbed:noise", "perturbed:shift", "train_fraction=0.5")]
    assert check_text("3 seeds", Evidence(metrics=one_seed)).status == "unmet"  # one run under four conditions
    three = [MetricRecord(method="svm", dataset="d", metric="accuracy", value=0.9, seed=s) for s in range(3)]
    assert check_text("3 seeds", Evidence(metrics=three)).status == "met"


def test_split_confusion_and_bias_variance_need_a_stated_sentence_not_a_keyword():
    bare = Evidence(sections={"Setup": "We split the data.", "Results": "The confusion is small. Bias matters.\n\n"
                                                                      "Variance too."})
    stated = Evidence(sections={"Setup": "Each seed draws a stratified 70/30 train/test split.",
                                "Results": "The confusion matrix puts 12 of 40 errors on class 3. "
                                           "Capacity trades bias for variance here."})
    for pref in ("report over several splits", "per-class confusion analysis", "connect results to bias-variance"):
        assert check_text(pref, bare).status == "unmet", pref
        assert check_text(pref, stated).status == "met", pref
