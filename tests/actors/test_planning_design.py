"""The design answers the question: the main job's default topic becomes a factorial
design (3 classifiers x with/without standardisation) that the scaffold runs arm by arm;
the reviewer rejects, by rule, a blueprint that does not answer; inputs written as
researchers write them resolve, and what cannot be resolved stops before Stage II."""
from __future__ import annotations

import glob
import json

import pytest

from actors.coding import CodingAgent
from actors.planning import PlanningAgent
from actors.planning_design import derive_design, design_issues
from actors.planning_inputs import resolve_topic
from nanoresearch.config import Budgets
from nanoresearch.datasets import get_catalog
from nanoresearch.errors import UserError
from nanoresearch.llm.scripted import FunctionModel
from nanoresearch.types import Hypothesis, ResearchTopic, Resources, UserProfile

CATALOG = get_catalog()
DEFAULT = ResearchTopic(problem_statement="Does feature standardisation change which classifier "
                        "(k-NN, SVM, logistic regression) is best for breast-cancer diagnosis?", domain="tabular")
PROFILE = UserProfile(user_id="u1", resources=Resources(cpus=2, gpus=0, hours=1.0))
HYP = Hypothesis(statement="Standardisation changes which classifier is best.")
# what the main job's model drafted: a "method" named after the intervention, no SVM, another dataset
BAD = {"title": "Feature standardisation and Decision Trees", "datasets": ["wine"],
       "baselines": ["logistic regression", "majority class", "k-NN"], "method": "Feature standardisation",
       "method_description": "standardise features", "metrics": ["accuracy"], "primary_metric": "accuracy",
       "ablations": []}
DISPLAY = {"timeseries": "Time Series", "graph": "Graph ML", "cv": "CV", "nlp": "NLP",
           "tabular": "Tabular", "audio": "Audio", "multimodal": "Multimodal"}


def _plan(topic, draft=BAD):
    def fn(msgs):
        last = msgs[-1].content
        return json.dumps({"passed": True, "issues": []} if "You review" in last else draft)
    agent = PlanningAgent(FunctionModel(fn), None, CATALOG, Budgets(blueprint_rounds=3, structured_retries=0))
    return agent.run(topic, PROFILE, HYP)


def test_default_topic_is_a_factorial_design_over_all_three_classifiers():
    d = derive_design(DEFAULT)
    assert d.kind == "factorial" and d.methods == ["k-NN", "SVM", "logistic regression"]
    assert d.levels == ["without standardisation", "with standardisation"] and len(d.arms) == 6


def test_bad_draft_becomes_the_factorial_and_says_so():
    res = _plan(DEFAULT)
    bp = res.blueprint
    assert "factorial design from the question replaced the drafted arms" in res.critiques[0].summary
    arms = [bp.proposed_method.name] + [b.name for b in bp.baselines]
    assert sorted(arms) == sorted(bp.design.arms) and [d.name for d in bp.datasets] == ["breast_cancer"]
    assert res.passed and "'breast_cancer' named in the question (dataset)" in bp.resolved_inputs


def test_reviewer_rejects_a_blueprint_that_does_not_answer_and_says_why():
    from actors.planning_review import repair, rule_issues

    bp = _plan(DEFAULT).blueprint
    bp.baselines = [b for b in bp.baselines if b.name != "SVM with standardisation"]
    assert any("'SVM with standardisation' is missing" in w for w in design_issues(bp, DEFAULT))
    topic, _ = resolve_topic(DEFAULT, CATALOG)
    issues = rule_issues(bp, topic, PROFILE, CATALOG, True)
    assert [i for i in issues if i.category == "off_question" and i.severity == "major"]
    repair(bp, issues, topic, PROFILE, CATALOG, True)
    assert not design_issues(bp, topic)


def test_scaffold_runs_every_arm_in_the_condition_it_names(tmp_path):
    bp = _plan(DEFAULT).blueprint
    coder = CodingAgent(None, CATALOG)
    coder.write(bp, None, [], tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    arms = {a["name"]: a for a in [cfg["method"], *cfg["baselines"]]}
    assert set(arms) == set(bp.design.arms)
    fam = {"k-NN": "knn", "SVM": "svm_rbf", "logistic regression": "logreg"}
    for name, a in arms.items():
        assert a["family"] == fam[name.split(" with")[0]]
        assert ("standardize" in a["steps"]) == (" with standardisation" in name), name


@pytest.mark.parametrize("question,kind", [
    ("Does one-pixel shift augmentation improve the accuracy of an RBF-kernel SVM?", "comparison"),
    ("Is late fusion more robust than early fusion when one modality is corrupted by noise?", "robustness"),
    ("How does the RMSE gap change as the training set shrinks from 100% to 25%?", "scaling"),
    ("Does adding delta statistics improve speaker identification?", "ablation"),
])
def test_question_forms(question, kind):
    assert derive_design(ResearchTopic(problem_statement=question)).kind == kind


def _as_researcher_writes(t: ResearchTopic) -> ResearchTopic:
    refs = [CATALOG[d].source.split(" (")[0] if not CATALOG[d].source.startswith("sklearn") else d
            for d in t.datasets]
    return t.model_copy(update={"domain": DISPLAY[t.domain], "datasets": refs})


@pytest.mark.parametrize("path", sorted(glob.glob("benchmarks/tasks/*.json")))
def test_every_task_resolves_from_display_names_and_module_paths(path):
    task = ResearchTopic.model_validate_json(open(path).read())
    written = _as_researcher_writes(task)
    topic, notes = resolve_topic(written, CATALOG)  # mm_02's late fusion runs in the multimodal harness
    assert (topic.domain, topic.datasets) == (task.domain, task.datasets)
    assert any("(domain)" in n for n in notes)


def test_unknown_dataset_stops_with_the_closest_entries_and_what_to_do():
    t = ResearchTopic(problem_statement="Forecast monthly CO2", domain="Time Series",
                      datasets=["statsmodels.datasets.co3x"])
    with pytest.raises(UserError, match=r"will not substitute.*Closest entries in timeseries: .*"):
        resolve_topic(t, CATALOG)
    with pytest.raises(UserError, match="unknown domain 'Robotics'"):
        resolve_topic(t.model_copy(update={"domain": "Robotics"}), CATALOG)


def _task(qid):
    return ResearchTopic.model_validate_json(open(f"benchmarks/tasks/{qid}.json").read())


def test_benchmark_designs_reach_the_seeded_config(tmp_path):
    """tab_03 (three preprocessing conditions incl. quantile), tab_04 (learning curve) and
    mm_02 (late vs early fusion under per-modality noise) plan into configs that run them."""
    draft = {"title": "t", "datasets": [], "baselines": [], "method": "m", "method_description": "",
             "metrics": [], "primary_metric": "", "ablations": []}
    seen = {}
    for qid in ("tab_03", "tab_04", "mm_02"):
        topic, _ = resolve_topic(_task(qid), CATALOG)
        bp = _plan(topic, dict(draft, datasets=topic.datasets)).blueprint
        assert not design_issues(bp, topic), (qid, design_issues(bp, topic))
        CodingAgent(None, CATALOG).write(bp, None, [], tmp_path / qid)
        seen[qid] = (bp, json.loads((tmp_path / qid / "config.json").read_text()))
    bp, cfg = seen["tab_03"]
    steps = {a["name"]: a["steps"] for a in [cfg["method"], *cfg["baselines"]]}
    assert set(bp.design.arms) <= set(steps) and len(bp.design.arms) == 9
    assert all(("quantile" in steps[a]) == a.endswith("with quantile transformation") for a in bp.design.arms)
    assert all(("standardize" in steps[a]) == a.endswith("with standardisation") for a in bp.design.arms)
    bp, cfg = seen["tab_04"]
    assert bp.design.kind == "scaling" and cfg["train_fractions"] == [0.25, 0.5, 0.75]
    bp, cfg = seen["mm_02"]
    assert bp.design.kind == "robustness" and {p["block"] for p in cfg["test_perturbations"]} == {"image", "text"}
    fusion = {b["name"]: b.get("features", {}).get("fusion") for b in cfg["baselines"]}
    assert fusion["late fusion"] == "late" and fusion["early fusion"] is None


def test_technique_questions_name_their_arm_and_every_named_baseline_runs_it(tmp_path):
    """tab_02 and cv_01 as the embedded model drafted them: a generic "proposed method", a
    metric name as an ablation, glued identifiers as baselines. The method is named by the
    question's subject, the junk names go, and each arm runs the technique it names."""
    from nanoresearch.scaffolds import techniques

    junk = {"title": "t", "baselines": ["regression_bias_bias_bias", "MLP"], "method": "proposed method",
            "method_description": "", "metrics": [], "primary_metric": "", "ablations": ["accuracy"]}
    for qid, subject in (("tab_02", "Decision-threshold tuning on a validation split"),
                         ("cv_01", "Random Fourier features with a linear classifier")):
        topic, _ = resolve_topic(_task(qid), CATALOG)
        bp = _plan(topic, dict(junk, datasets=topic.datasets)).blueprint
        assert bp.proposed_method.name == subject
        assert bp.primary_metric == {"tab_02": "macro_f1", "cv_01": "accuracy"}[qid]  # "... for macro-F1"
        names = [b.name for b in bp.baselines] + [a.name for a in bp.ablations]
        assert not [n for n in names if "_bias" in n or n == "accuracy"], names
        said = " ".join(bp.resolved_inputs)  # the rule repairs are recorded, not passed off as model text
        assert "'proposed method' -> " in said and "dropped unusable drafted names" in said
        assert not design_issues(bp, topic), (qid, design_issues(bp, topic))
        CodingAgent(None, CATALOG).write(bp, None, [], tmp_path / qid)
        cfg = json.loads((tmp_path / qid / "config.json").read_text())
        arms = {a["name"]: a for a in [cfg["method"], *cfg["baselines"]]}
        assert {b.name for b in bp.baselines} <= set(arms)
        assert all(not techniques.missing(a) for a in arms.values())
    assert [b.name for b in bp.baselines].count("MLP") == 0  # cv_01: covered by "MLP (1 hidden layer)"


def test_the_reviewer_sees_a_technique_the_question_asks_about_that_no_arm_runs():
    topic, _ = resolve_topic(_task("tab_02"), CATALOG)
    bp = _plan(topic, {"title": "t", "datasets": topic.datasets, "baselines": [], "method": "m",
                       "method_description": "", "metrics": [], "primary_metric": "", "ablations": []}).blueprint
    bp.proposed_method.name = "logistic regression"
    assert "the question asks about decision-threshold tuning but no arm runs it" in design_issues(bp, topic)
