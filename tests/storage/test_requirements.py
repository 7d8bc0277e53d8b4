"""Standing requirements: feedback text -> verifiable forms -> rule checks on artifacts."""
from __future__ import annotations

import pytest

from nanoresearch.types import Blueprint, DatasetSpec, MethodSpec, PaperDraft, Section
from storage.requirements import (
    check_all, check_blueprint, check_paper, enforce_blueprint, parse_forms, requirement_memories,
)


def bp(**kw) -> Blueprint:
    base = dict(title="t", datasets=[DatasetSpec(name="tweets")], baselines=[MethodSpec(name="Majority class")],
                proposed_method=MethodSpec(name="char n-gram SVM"), metrics=["accuracy"],
                primary_metric="accuracy", seeds=[0, 1, 2])
    return Blueprint(**{**base, **kw})


def test_feedback_texts_become_forms():
    assert parse_forms("always report an efficiency table") == [
        {"artifact": "paper", "field": "table", "value": "efficiency"}]
    assert parse_forms("use logistic regression as a baseline") == [
        {"artifact": "blueprint", "field": "baselines", "value": "logistic regression"}]
    forms = parse_forms("Please use an SVM as the baseline, report macro-F1 and run at least 5 seeds.")
    assert {"artifact": "blueprint", "field": "metrics", "value": "macro-f1"} in forms
    assert {"artifact": "blueprint", "field": "seeds", "value": "5"} in forms
    assert parse_forms("the writing was nice") == []


def test_reporting_asks_become_paper_mentions_and_double_negatives_still_ask_for_ablations():
    mention = lambda v: {"artifact": "paper", "field": "mentions", "value": v}  # noqa: E731
    assert parse_forms("Please make sure of: worst-case metrics next to averages.") == [mention("worst_case")]
    assert mention("best_per_dataset") in parse_forms("report the best configuration per dataset")
    assert parse_forms("explain which part causes the gain") == [mention("gain_attribution")]
    abl = {"artifact": "blueprint", "field": "ablations", "value": "1"}
    assert abl in parse_forms("An ablation for every component. Avoid monolithic methods without ablations.")
    assert abl not in parse_forms("Avoid many ablations.") and abl not in parse_forms("no ablations please")
    draft = PaperDraft(title="t", sections=[Section(name="results", latex=(
        "\\begin{table}x & w/o smoothing & 0.95\\end{table}"))])
    assert check_paper(mention("gain_attribution"), draft)[0] is False  # a table row attributes nothing


def test_requirements_are_user_bound_unless_limited_to_this_project():
    (m,) = requirement_memories("use logistic regression as a baseline", "ana", "p1")
    assert m.category == "requirement" and m.project_id is None and m.form["field"] == "baselines"
    (p,) = requirement_memories("for this project, use ridge as a baseline", "ana", "p1")
    assert p.project_id == "p1"


def test_blueprint_forms_are_checked_and_enforced_by_rule():
    form = {"artifact": "blueprint", "field": "baselines", "value": "logistic regression"}
    b = bp()
    assert check_blueprint(form, b)[0] is False
    b2 = enforce_blueprint(form, b)
    assert check_blueprint(form, b2)[0] is True and b2.baselines[-1].name == "logistic regression"
    assert check_blueprint(form, bp(baselines=[MethodSpec(name="LogisticRegression (tf-idf)")]))[0]
    seeds = {"artifact": "blueprint", "field": "seeds", "value": "5"}
    assert len(enforce_blueprint(seeds, b).seeds) == 5
    abl = {"artifact": "blueprint", "field": "ablations", "value": "1"}
    assert check_blueprint(abl, enforce_blueprint(abl, b))[0] is True


def test_count_forms_add_datasets_and_baselines_from_the_options_and_say_when_they_run_out():
    more = {"artifact": "blueprint", "field": "min_datasets", "value": "2"}
    b = bp(datasets=[DatasetSpec(name="wa_churn")])
    assert enforce_blueprint(more, b) is b  # nothing to add from: left as is, stays unmet on record
    b2 = enforce_blueprint(more, b, {"datasets": ["wa_churn", "iris", "wine"]})
    assert [d.name for d in b2.datasets] == ["wa_churn", "iris"] and check_blueprint(more, b2)[0] is True
    assert "standing requirement" in b2.datasets[1].notes
    strong = {"artifact": "blueprint", "field": "min_baselines", "value": "2"}
    b3 = enforce_blueprint(strong, b, {"baselines": ["majority class", "Logistic regression"]})
    assert [m.name for m in b3.baselines] == ["Majority class", "Logistic regression"]  # no second majority
    short = enforce_blueprint({**more, "value": "4"}, b, {"datasets": ["iris"]})
    assert len(short.datasets) == 2 and check_blueprint({**more, "value": "4"}, short)[0] is False


def test_count_options_come_from_the_catalog_of_the_blueprints_domain_and_task():
    from actors.learning_steps import count_options
    from nanoresearch.datasets import get_catalog

    opts = count_options(bp(datasets=[DatasetSpec(name="wa_churn")]))
    cat = get_catalog()
    assert "wa_churn" in opts["datasets"] and len(opts["datasets"]) >= 2
    assert all((cat[n].domain, cat[n].task) == ("tabular", "classification") for n in opts["datasets"])
    assert "majority" not in opts["baselines"][0].lower()  # a strong baseline is offered first
    assert count_options(bp(datasets=[DatasetSpec(name="not-in-the-catalog")])) == {}


def test_robustness_asks_for_perturbed_test_sets_and_their_scores_in_the_text():
    from nanoresearch.types import DesignSpec
    forms = parse_forms("Please make sure of: robustness to noise and shift.")
    rob = {"artifact": "blueprint", "field": "robustness", "value": "gaussian noise,shift"}
    assert forms == [rob, {"artifact": "paper", "field": "mentions", "value": "robustness"}]
    assert parse_forms("the model is robust") == []
    b = bp()
    assert check_blueprint(rob, b)[0] is False
    b2 = enforce_blueprint(rob, b)
    assert b2.stress_tests == ["gaussian noise (level 1)", "shift (level 1)"] and check_blueprint(rob, b2)[0]
    # a robustness design that already perturbs with noise only gains the shift
    d = bp(design=DesignSpec(kind="robustness", levels=["clean test set", "gaussian noise (level 0.5)"]))
    assert enforce_blueprint(rob, d).stress_tests == ["shift (level 1)"]


def test_paper_forms_read_section_tables_never_the_preamble():
    form = {"artifact": "paper", "field": "table", "value": "efficiency"}
    preamble_only = PaperDraft(title="t", sections=[Section(name="Results", latex=(
        "\\begin{table}\\caption{Accuracy per dataset}\\begin{tabular}{lr}a & 1\\end{tabular}\\end{table}"))])
    assert check_paper(form, preamble_only)[0] is False  # a table, but not about efficiency
    with_table = PaperDraft(title="t", sections=[Section(name="Results", latex=(
        "\\begin{table}\\caption{Wall-clock time per run (seconds)}\\begin{tabular}{lr}svm & 3.2"
        "\\end{tabular}\\end{table}"))])
    assert check_paper(form, with_table)[0] is True
    sec = {"artifact": "paper", "field": "section", "value": "limitations"}
    assert check_paper(sec, PaperDraft(title="t", sections=[Section(name="Limitations", latex="x")]))[0]


def test_check_all_reports_each_requirement_on_its_artifact():
    mems = requirement_memories("use logistic regression as a baseline; always report an efficiency table",
                                "ana", "p1")
    checks = check_all(mems, bp=bp())
    assert [c.met for c in checks] == [False, None]  # the paper form waits for the paper


def test_persona_language_becomes_checkable_forms_and_negations_do_not():
    assert parse_forms("Please make sure of: report mean and std over seeds.") == [
        {"artifact": "paper", "field": "mentions", "value": "mean_std"}]  # "mean" is no metric
    assert parse_forms("Please make sure of: compare against strong baselines; more datasets.") == [
        {"artifact": "blueprint", "field": "min_baselines", "value": "2"},
        {"artifact": "blueprint", "field": "min_datasets", "value": "2"}]
    assert parse_forms("an ablation for every component") == [
        {"artifact": "blueprint", "field": "ablations", "value": "1"}]
    assert parse_forms("Avoid many ablations.") == []
    eff = {"artifact": "paper", "field": "mentions", "value": "efficiency"}
    assert parse_forms("an efficiency analysis (time and memory)") == [eff]
    said = PaperDraft(title="t", sections=[Section(name="Results", latex="Fitting takes 3.2 seconds per seed.")])
    assert check_paper(eff, said)[0] is True
    assert check_paper(eff, PaperDraft(title="t", sections=[Section(name="R", latex="It is efficient.")]))[0] is False


def test_a_requirement_said_twice_stands_once():
    from storage.requirements import unique_forms
    a = requirement_memories("use ridge as a baseline", "ana", "p1")
    b = requirement_memories("Again: use ridge as a baseline, please", "ana", "p2")
    assert len(unique_forms(a + b)) == 1


@pytest.mark.parametrize("text,standing", [
    ("I prefer short related-work sections", True),
    ("never report accuracy alone", True),
    ("from now on keep the discussion plain", True),
    ("I prefer a shorter abstract in this paper", False),  # limited to this project
    ("the abstract reads too long", False),
    ("good job", False),
])
def test_standing_preference(text, standing):
    from storage.requirements import standing_preference
    assert standing_preference(text) is standing
