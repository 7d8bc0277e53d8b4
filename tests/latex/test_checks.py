"""Planted fabrications: numbers not in any artifact, cite keys not in the .bib, made-up
references - each must be caught, located and reported."""
from nanoresearch.latex import (build_evidence, check_citations, check_numbers, check_section,
                                check_textual_refs, write_bib)
from nanoresearch.latex.bib import verify_bib
from nanoresearch.types import LiteratureRecord, MetricRecord

PAPERS = [LiteratureRecord(id="arxiv:2307.01932", title="Integrating Random Forests and GLMs",
                           authors=["Abhineet Agarwal", "Ana M. Kenney", "Bin Yu"], year=2023)]
METRICS = [MetricRecord(method="ours", dataset="iris", metric="accuracy", value=v, seed=s)
           for s, v in enumerate([0.95, 0.96, 0.97])]
EV = build_evidence(METRICS, papers=PAPERS)


def test_planted_number_is_removed_with_its_sentence_and_reported():
    text = "Our method reaches 0.960 accuracy. It also reaches 97.8\\% on ImageNet. We use 3 seeds."
    out, rep = check_numbers(text, EV, "results")
    assert out == "Our method reaches 0.960 accuracy. We use 3 seeds."
    (bad,) = rep.problems
    assert (bad.text, bad.section, bad.line, bad.action) == ("97.8\\%", "results", 1, "removed")
    assert "ImageNet" in bad.sentence
    assert len(rep.matched) == 2


def test_block_mode_changes_nothing_and_blocks():
    text = "Accuracy is 0.991 here."
    out, rep = check_numbers(text, EV, "abstract", mode="block")
    assert out == text and [f.text for f in rep.blocking] == ["0.991"]


def test_numbers_inside_a_table_block_even_in_remove_mode():
    table = "\\begin{table}\\begin{tabular}{lc} ours & 0.960 \\\\ base & 0.871 \\\\ \\end{tabular}\\end{table}"
    out, rep = check_numbers(table, EV, "results")
    assert out == table
    assert [f.text for f in rep.blocking] == ["0.871"]


def test_decimal_points_and_abbreviations_do_not_split_sentences():
    text = "Prior work (Agarwal et al., 2023) e.g. trees reach 0.960. Then 0.123 appears. End."
    out, _ = check_numbers(text, EV, "x")
    assert out == "Prior work (Agarwal et al., 2023) e.g. trees reach 0.960. End."


def test_unknown_cite_key_is_removed_and_reported():
    text = "Trees work \\citep{arxiv2307_01932,smith2020fake}. Boosting too \\cite{made_up}."
    out, rep = check_citations(text, ["arxiv2307_01932"], "intro")
    assert out == "Trees work \\citep{arxiv2307_01932}. Boosting too."
    assert sorted(f.text for f in rep.problems) == ["made_up", "smith2020fake"]


def test_made_up_textual_reference_is_removed():
    text = "Agarwal et al. (2023) combine forests and GLMs. Smith et al. (2019) solved this already. Fine."
    out, rep = check_textual_refs(text, PAPERS, "related_work")
    assert out == "Agarwal et al. (2023) combine forests and GLMs. Fine."
    assert rep.problems[0].text.startswith("Smith et al.")


def test_wrong_year_of_a_real_author_is_a_made_up_reference():
    _, rep = check_textual_refs("Agarwal et al. (2011) did it.", PAPERS, "x")
    assert rep.problems


def test_check_section_runs_all_checks_and_cites_are_not_numbers():
    text = "We cite \\citep{arxiv2307_01932} in 2023 work. Fake \\cite{nope} claim of 0.5 here."
    out, rep = check_section(text, section="intro", bib_keys=["arxiv2307_01932"], evidence=EV, papers=PAPERS)
    assert "nope" not in out and "0.5" not in out and "arxiv2307_01932" in out
    assert {f.check for f in rep.problems} == {"cite", "number"}


def test_bib_with_a_made_up_entry_is_flagged(tmp_path):
    write_bib(PAPERS, tmp_path / "references.bib")
    text = (tmp_path / "references.bib").read_text()
    assert verify_bib(text, PAPERS) == []
    forged = text + "\n@article{smith2020,\n  title = {A Paper Nobody Retrieved},\n  year = {2020}\n}\n"
    assert [p.key for p in verify_bib(forged, PAPERS)] == ["smith2020"]
    edited = text.replace("Integrating", "Disintegrating")
    assert "differs" in verify_bib(edited, PAPERS)[0].reason


def test_significance_claims_need_a_small_p_value():
    from nanoresearch.latex.checks import check_significance
    from nanoresearch.types import AnalysisReport, Comparison
    comp = Comparison(method="ours", baseline="b", dataset="iris", metric="accuracy", mean=0.96, std=0.01,
                      baseline_mean=0.95, n_seeds=3, delta=0.01, p_value=0.071)
    ev = build_evidence(METRICS, AnalysisReport(summary="", comparisons=[comp]))
    text = "Ours is significantly better. The gain is not statistically significant. Insignificant noise."
    out, rep = check_significance(text, ev, "results")
    assert out == "The gain is not statistically significant. Insignificant noise."
    assert rep.problems[0].text == "significantly"
    ev.add(0.01, "p", "p_value")
    assert check_significance(text, ev)[0] == text


# ---------------------------------------------------------------------- prose gate
import pytest  # noqa: E402

from nanoresearch.latex.prose import filler_reason, gate_prose, leak_reason, repeated_sentences  # noqa: E402


@pytest.mark.parametrize("sentence", [
    "Feature-based decision-making is a method that uses data analysis to make decisions based on data analysis.",
    "Standardisation plays an important role in machine learning.",
])
def test_filler_sentences_are_flagged(sentence):
    assert filler_reason(sentence)


@pytest.mark.parametrize("sentence", [
    "The limitations say verdict refuted: worse than the best baseline.",
    "summary: deterministic (model summary rejected: cites no result).",
    "The method fell back to the scaffold default.",
])
def test_internal_text_is_flagged(sentence):
    assert leak_reason(sentence)


@pytest.mark.parametrize("sentence", [
    "Standardisation rescales each feature to zero mean and unit variance using training-set statistics.",
    "On breast\\_cancer, SVM reaches a mean accuracy of 0.970 against 0.930 for k-NN.",
    "Logistic regression models the log-odds of the class as a linear function of the features.",
    "We run each of k-NN, SVM and logistic regression without standardisation and with standardisation.",
])
def test_real_sentences_pass(sentence):
    assert filler_reason(sentence) is None and leak_reason(sentence) is None


def test_gate_keeps_floats_and_reports_what_it_removed():
    text = ("SVM ranks first. verdict refuted: worse than the best baseline.\n\n"
            "\\begin{table}x summary: y\\end{table}")
    out, reasons = gate_prose(text)
    assert "verdict" not in out.split("\\begin")[0] and "\\begin{table}x summary: y\\end{table}" in out
    assert len(reasons) == 1 and reasons[0].startswith("internal text")


def test_repeated_sentences_across_sections():
    a = "We test the hypothesis that scaling helps k-NN. SVM ranks first."
    assert repeated_sentences([a, "We test the hypothesis that scaling helps k-NN."]) == \
        ["we test the hypothesis that scaling helps k nn"]
