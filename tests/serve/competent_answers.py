"""What the competent stand-in answers, per kind of request (tests/serve/competent_model.py).

A capable model reads the prompt: the answers below are written for the breast-cancer
standardisation project of tests/serve/test_real_service.py, and every number they
state is read from the prompt's own facts (as a careful model would quote them), never
invented. Each route is (name, does the prompt ask this?, answer(messages, schema)).
"""
from __future__ import annotations

import json
import re

HYPOTHESIS = ("An RBF-kernel SVM trained on standardised features reaches higher test accuracy on "
              "breast_cancer than logistic regression and k-NN, over 3 seeds.")
TITLE = "Standardised Features and the Choice of Classifier for Breast-Cancer Diagnosis"
METHOD = "standardised RBF-SVM"


def _user(msgs: list[dict]) -> str:
    return next((str(m.get("content", "")) for m in reversed(msgs) if m.get("role") == "user"), "")


def _j(obj) -> str:
    return json.dumps(obj)


def _facts(prompt: str) -> list[str]:
    """The lines under 'Facts you may use (and no others):'."""
    block = prompt.split("Facts you may use (and no others):", 1)[-1]
    out = []
    for line in block.splitlines()[1:] if block.startswith("\n") else block.splitlines():
        line = line.strip()
        if line.startswith("- "):
            out.append(line[2:])
        elif out and not line:
            break
    return out


def _numbers(prompt: str) -> list[str]:
    return [f for f in _facts(prompt) if f.startswith("On ")]


# ---------------------------------------------------------------------- Stage I
def planner(msgs, schema) -> str:
    u = _user(msgs)
    stage = (re.search(r"Stage: (\w+)", u) or [None, "task"])[1]
    steps = {
        "literature": ["Search for studies of feature scaling with kernel and distance-based classifiers",
                       "Read the closest abstracts and note the accuracies they report",
                       "Propose a hypothesis that compares classifiers with and without scaling"],
        "planning": ["Use breast_cancer from the offline catalog with a stratified split",
                     "Compare an RBF-SVM on standardised features with logistic regression and k-NN",
                     "Run 3 seeds and ablate the standardisation step"],
        "coding": ["Start from the tabular classification scaffold",
                   "Choose the svm_rbf family with a standardize step",
                   "Write metrics for every method and seed to metrics.json"],
        "writing": ["State the question and the hypothesis in the introduction",
                    "Report every mean with its std and p-value in the results",
                    "Say plainly where the method did not win"],
    }.get(stage, ["Read the task", "Do the work step by step", "Check the outcome against the task"])
    out = {"steps": steps, "rationale": f"A short plan for the {stage} stage of a small tabular study."}
    props = (schema or {}).get("properties", {})
    if "selected_skill_ids" in props:
        ids = props["selected_skill_ids"]["items"].get("enum", [])
        out["selected_skill_ids"] = [i for i in ids if "tabular" in i][:1]
    if "selected_memory_ids" in props:
        out["selected_memory_ids"] = []
    return _j(out)


def react(msgs, schema) -> str:
    u = _user(msgs)
    step = int((re.search(r"Step (\d+) of", u) or [None, "1"])[1])
    first = re.search(r"^- (\S+): ", u, re.M)
    if step == 1:
        return _j({"thought": "look for work on feature scaling and classifier choice",
                   "tool": "search", "arg": "feature scaling support vector machine breast cancer"})
    if step == 2 and first:
        return _j({"thought": "read the closest paper", "tool": "read_record", "arg": first.group(1)})
    return _j({"thought": "enough context to propose a hypothesis", "tool": "finish", "arg": ""})


def ideas(msgs, schema) -> str:
    return _j({
        "gaps": ["Studies report the best classifier for breast_cancer without saying whether features were scaled.",
                 "Kernel and distance-based classifiers are rarely compared with and without standardisation.",
                 "Few comparisons report the spread over seeds beside the mean accuracy."],
        "hypotheses": [
            {"statement": HYPOTHESIS,
             "motivation": "The RBF kernel and k-NN depend on distances, which unscaled features with large ranges dominate.",
             "expected_effect": "Higher mean accuracy than both baselines with a small spread over seeds.",
             "risk": "Logistic regression may already be near the ceiling on this small dataset."},
            {"statement": "An RBF-kernel SVM trained on standardised features reaches higher macro F1 on breast_cancer "
                          "than logistic regression, over 3 seeds.",
             "motivation": "Accuracy hides errors on the smaller class; macro F1 weighs both classes.",
             "expected_effect": "A higher mean macro F1 than logistic regression.",
             "risk": "The classes are only mildly imbalanced, so both metrics may agree."},
            {"statement": "Removing standardisation lowers RBF-SVM test accuracy on breast_cancer below logistic "
                          "regression, over 3 seeds.",
             "motivation": "Unscaled features with large ranges dominate the RBF kernel's distances.",
             "expected_effect": "The unscaled SVM loses to logistic regression.",
             "risk": "Tuning the kernel width could partly compensate for missing scaling."}]})


def novelty(msgs, schema) -> str:
    title = (re.search(r"Closest prior paper \([^)]*\): (.+)", _user(msgs)) or [None, "the closest paper"])[1].strip()
    return _j({"already_done": False,
               "reason": f"'{title[:120]}' does not compare classifiers trained with and without "
                         "standardised features on breast_cancer."})


def blueprint(msgs, schema) -> str:
    return _j({"title": TITLE, "datasets": ["breast_cancer"],
               "baselines": ["logistic regression", "k-NN"],
               "method": METHOD,
               "method_description": "An SVM with an RBF kernel fitted on features standardised to zero mean "
                                     "and unit variance on the training split only.",
               "metrics": ["accuracy", "macro_f1"], "primary_metric": "accuracy",
               "ablations": ["standardised RBF-SVM without the standardisation step"]})


def design_review(msgs, schema) -> str:
    return _j({"passed": True, "issues": [
        {"category": "other", "message": "Three seeds give wide intervals: report the standard deviation "
                                         "and a paired test beside each mean."}]})


def method_config(msgs, schema) -> str:
    return _j({"family": "svm_rbf", "params": {"C": 1.0}, "steps": ["standardize"]})


_RESULT = re.compile(r"^- (\S+) (\w+): (.+?) ([\d.]+) \+- [\d.e-]+ vs (.+?) ([\d.]+) \+- [\d.e-]+ "
                     r"\(delta ([-\d.e]+), p ([\d.e-]+), (\d+) seeds\)", re.M)


def analysis(msgs, schema) -> str:
    u = _user(msgs)
    rows = _RESULT.findall(u.split("Ablations:")[0])
    if not rows:
        return _j({"summary": "No comparison could be computed from the runs, so the hypothesis stays untested."})
    ds, metric, method, mean = rows[0][0], rows[0][1], rows[0][2], rows[0][3]
    parts = [f"On {ds}, {method} reached a mean {metric} of {mean}."]
    for r in rows[:2]:
        parts.append(f"Against {r[4]} ({r[5]}) the difference was {r[6]} with p {r[7]} over {r[8]} seeds.")
    return _j({"summary": " ".join(parts)[:400]})


# ---------------------------------------------------------------------- Stage III
def outline(msgs, schema) -> str:
    return _j({"title": TITLE,
               "key_message": "Standardising features decides how well distance-based classifiers do on "
                              "breast-cancer diagnosis, and the comparison must say so.",
               "points": ["Why scaling can change which classifier looks best",
                          "What earlier comparisons reported and what they left out",
                          "An RBF-SVM on standardised features against two baselines",
                          "One dataset, fixed splits, three seeds, paired tests",
                          "What the measured accuracies show about the hypothesis",
                          "One dataset and default hyperparameters limit the claim",
                          "The answer and the next experiments"]})


SECTION_PROSE = {
    "Introduction": [
        "Which classifier is best for a diagnostic task is often reported as a property of the classifier, "
        "yet for kernel and distance-based methods it also depends on how the features were prepared. The "
        "breast-cancer data mixes measurements on very different scales, so an unscaled distance is dominated "
        "by a few large features. We ask whether standardising the features changes which classifier comes "
        "out best, and test the hypothesis that an RBF-kernel SVM on standardised features beats logistic "
        "regression and k-NN in accuracy.",
        "We state the comparison before running it, report every seed, and say plainly where the proposed "
        "setup does not win."],
    "Related Work": [
        "Comparisons of classifiers on small medical tables usually fix one preprocessing pipeline and vary "
        "the model, so the effect of scaling is folded into the model's score. Work on kernel methods notes "
        "that the RBF kernel assumes comparable feature ranges, and studies of nearest-neighbour rules make "
        "the same point for distances. Our study differs in treating the scaling step as the variable of "
        "interest and in reporting the spread over seeds with a paired test for each comparison.",
        "We do not claim a new classifier: the contribution is a controlled comparison that a practitioner "
        "can repeat before choosing a model."],
    "Method": [
        "The proposed setup fits an SVM with an RBF kernel on features standardised to zero mean and unit "
        "variance, with the scaling statistics estimated on the training split only so that no information "
        "from the test split leaks into training. The baselines are logistic regression and k-NN as provided "
        "by the experiment scaffold. An ablation removes the standardisation step and keeps everything else "
        "fixed, which isolates the contribution of scaling from that of the kernel."],
    "Experimental Setup": [
        "We use the breast_cancer dataset from the offline catalog with a stratified train and test split. "
        "Every method is trained with three seeds on the same splits, and we report the mean and standard "
        "deviation of accuracy on the test split, with macro F1 as a second metric. Each comparison with a "
        "baseline uses a paired t-test over the seeds."],
    "Limitations": [
        "The study uses a single dataset and three seeds, so its intervals are wide and its conclusions may "
        "not transfer to other diagnostic tables. Hyperparameters were left at sensible defaults rather than "
        "tuned per method, which can favour methods whose defaults happen to suit this data. We did not "
        "compare other scaling schemes such as min-max or robust scaling."],
    "Conclusion": [
        "Whether standardisation changes which classifier is best is a question the measured accuracies "
        "answer directly, and we report that answer with its uncertainty instead of a single winner. The "
        "next experiments should add datasets, tune each method on a validation split, and compare "
        "scaling schemes."],
}


def _results_prose(prompt: str) -> list[str]:
    nums = _numbers(prompt)
    if not nums:
        return ["The runs produced no comparison, so this section can report no measured difference."]
    return ["We report each comparison exactly as measured. " + " ".join(nums[:4]),
            "A difference whose p-value is large should be read as no evidence either way at three seeds; "
            "the comparison with the weakest baseline mainly shows that the pipeline learns at all."]


def section(msgs, schema) -> str:
    u = _user(msgs)
    name = (re.search(r'the section "([^"]+)"', u) or [None, ""])[1]
    paras = _results_prose(u) if name == "Results" else SECTION_PROSE.get(name, [
        "This section follows from the facts of the experiment and adds no claim beyond them."])
    want = int((re.search(r"(\d+) short paragraph", u) or [None, str(len(paras))])[1])
    return "\n\n".join(paras[:max(1, want)])


def abstract(msgs, schema) -> str:
    u = _user(msgs)
    nums = _numbers(u)
    return ("Which classifier is best for breast-cancer diagnosis may depend on whether the features were "
            "standardised, because kernel and distance-based methods are sensitive to feature ranges. We test "
            "the hypothesis that an RBF-kernel SVM trained on standardised features beats logistic regression "
            "and k-NN in accuracy, using one dataset, fixed splits and three seeds with paired tests. "
            + (nums[0] + " " if nums else "")
            + "We report every comparison with its spread and say where the proposed setup does not win.")


def review(msgs, schema) -> str:
    u = _user(msgs)
    focus = (re.search(r"You focus on (\w+)", u) or [None, "soundness"])[1]
    if focus == "presentation":
        return _j({"summary": "A clearly written comparison of classifiers with and without standardised features on "
                              "breast-cancer diagnosis; the structure is easy to follow and the limitations are stated.",
                   "strengths": ["The question and hypothesis are stated before the results.",
                                 "Every mean is reported with its spread and a p-value."],
                   "weaknesses": ["The results section lists numbers without a sentence on what they imply.",
                                  "The related work does not name the studies it contrasts with."],
                   "questions": ["Which scaling statistics were used at test time?"],
                   "soundness": 6, "presentation": 7, "contribution": 5, "overall": 6, "confidence": 4,
                   "revision_requests": ["results: add one sentence interpreting each comparison",
                                         "related_work: name the retrieved studies the paper contrasts with"]})
    return _j({"summary": "The paper asks whether feature standardisation changes the best classifier for breast-cancer "
                          "diagnosis and compares an RBF-SVM on standardised features with two baselines over three seeds.",
               "strengths": ["A controlled comparison with an ablation of the scaling step.",
                             "Paired tests over seeds instead of a single split."],
               "weaknesses": ["Only one dataset and three seeds: the intervals are wide.",
                              "Hyperparameters are not tuned on a validation split."],
               "questions": ["Would the ranking hold with tuned hyperparameters?"],
               "soundness": 5, "presentation": 6, "contribution": 4, "overall": 5, "confidence": 4,
               "revision_requests": ["limitations: state that a single dataset limits the claim",
                                     "experimental_setup: say how the scaling statistics were estimated"]})


REVISIONS = {
    "Limitations": "A single dataset limits the claim: the ranking observed on breast_cancer may not hold on other "
                   "diagnostic tables, and three seeds leave wide intervals around each mean.",
    "Experimental Setup": "The scaling statistics, the mean and standard deviation of each feature, are estimated "
                          "on the training split of each seed and applied unchanged to its test split.",
    "Related Work": "None of the retrieved papers compares classifiers trained with and without standardised "
                    "features on this dataset; they study other tasks and models, which is why we treat scaling "
                    "as the variable of interest here.",
    "Results": "Read together, these comparisons say how much of the ranking between classifiers is due to the "
               "scaling step rather than to the classifiers themselves.",
}


def revise(msgs, schema) -> str:
    """The section as written, plus a paragraph that answers the reviewer's request."""
    u = _user(msgs)
    name = (re.search(r'section "([^"]+)"', u) or [None, ""])[1]
    paras = _results_prose(u) if name == "Results" else list(SECTION_PROSE.get(name, []))
    answer = REVISIONS.get(name, "We revised this section to answer the reviewer's request, within the facts "
                                 "of the experiment.")
    want = int((re.search(r"(\d+) short paragraph", u) or [None, "2"])[1])
    return "\n\n".join([*paras[:max(1, want - 1)], answer])


def reflection(msgs, schema) -> str:
    u = _user(msgs)
    stage = (re.search(r"Stage: (\w+)", u) or [None, "experiment"])[1]
    skill_stage = {"ideation": "planning", "experiment": "experiment", "writing": "writing"}.get(stage, "experiment")
    return _j({"skills": [{"name": "Scale before distance-based models", "stage": skill_stage,
                           "trigger": "a tabular study compares kernel or k-NN classifiers",
                           "instruction": "apply feature standardisation, fitted on the training split, before any kernel or distance-based classifier",
                           "tags": ["tabular", "preprocessing"]}],
               "memories": [{"category": "decision",
                             "content": f"In the {stage} stage the study compared an RBF-SVM on standardised "
                                        "features with logistic regression and k-NN."}]})


ROUTES = [
    ("planner", lambda t: "You are the research planner" in t, planner),
    ("reflection", lambda t: "write down lessons" in t, reflection),
    ("review", lambda t: "strict peer reviewer" in t, review),
    ("react", lambda t: "Pick one tool." in t, react),
    ("hypotheses", lambda t: "testable hypotheses" in t, ideas),
    ("novelty", lambda t: "already tested exactly this hypothesis" in t or "NoveltyOut" in t, novelty),
    ("design_review", lambda t: "You review an experiment design" in t, design_review),
    ("blueprint", lambda t: "Design the experiment" in t, blueprint),
    ("method_config", lambda t: "Pick the model family" in t, method_config),
    ("analysis", lambda t: "Use only numbers from the lines above" in t, analysis),
    ("outline", lambda t: "one short sentence per section" in t, outline),
    ("revise", lambda t: "Rewrite the section to answer the request" in t, revise),
    ("abstract", lambda t: "Write the abstract" in t, abstract),
    ("section", lambda t: "Now write the section" in t, section),
]
