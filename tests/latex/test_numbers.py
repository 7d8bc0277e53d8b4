"""Number extraction and matching: the core of the anti-fabrication check."""
import pytest

from nanoresearch.latex import build_evidence, find_numbers
from nanoresearch.latex.numbers import NumberMention
from nanoresearch.types import AnalysisReport, Comparison, MetricRecord


def nums(src):
    return [(n.value, n.form, n.signed) for n in find_numbers(src)]


@pytest.mark.parametrize("src,expected", [
    (r"reaches 93.2\% accuracy", [(93.2, "percent", False)]),
    ("an accuracy of 0.932", [(0.932, "plain", False)]),
    ("a gain of +1.5 points", [(1.5, "plain", True)]),
    ("a drop of -0.3", [(-0.3, "plain", True)]),
    ("1.5x faster", [(1.5, "ratio", False)]),
    (r"1.5$\times$ faster", [(1.5, "ratio", False)]),
    ("p = 1.2e-3", [(0.0012, "scientific", False)]),
    (r"$2.5 \times 10^{-4}$", [(0.00025, "scientific", False)]),
    (r"$10^{-3}$", [(0.001, "scientific", False)]),
    ("1,797 samples", [(1797.0, "plain", False)]),
    ("10k samples", [(10000.0, "plain", False)]),
    (r"\num{0.95}", [(0.95, "plain", False)]),
    ("12 percent", [(12.0, "percent", False)]),
])
def test_forms(src, expected):
    assert nums(src) == expected


def test_ranges_are_two_positive_numbers():
    assert [n.value for n in find_numbers("seeds 3-5 and 3--5 and 0.2 to 0.4")] == [3, 5, 3, 5, 0.2, 0.4]


@pytest.mark.parametrize("src", [
    r"See Table~\ref{tab:r}, Table 2, Figure 3 and Section 4.",
    r"\includegraphics[width=0.9\linewidth]{fig1.png} \vspace{2mm} \cite{arxiv2106_01234}",
    r"ResNet50 on CIFAR-10 with F1 and mnist\_784 in 2D, top-5, SmolLM2",
    r"\begin{tabular}{lcc} \multicolumn{2}{c}{x} \cmidrule(lr){2-3} \end{tabular}",
    "(1) we train and (2) we test",
    "% a comment with 42 in it",
    # \citep / \citet keys (the hex of local records) are not numbers: "cite" must not
    # match as a prefix and leave the key unmasked
    r"Prior work \citep{local34bc80333340} and \citet{b6002540d567} \citealp{x9}",
])
def test_non_claims_are_ignored(src):
    assert find_numbers(src) == []


def test_comparator_and_line():
    n = find_numbers("first line\np < 0.05 here")[0]
    assert (n.comparator, n.line, n.value) == ("<", 2, 0.05)


@pytest.fixture()
def evidence():
    metrics = [MetricRecord(method=m, dataset="iris", metric="accuracy", value=v, seed=s)
               for m, vals in {"ours": [0.931, 0.933, 0.932], "base": [0.915, 0.917, 0.916]}.items()
               for s, v in enumerate(vals)]
    comp = Comparison(method="ours", baseline="base", dataset="iris", metric="accuracy", mean=0.932,
                      std=0.001, baseline_mean=0.916, baseline_std=0.001, n_seeds=3, delta=0.016,
                      p_value=0.0004)
    return build_evidence(metrics, AnalysisReport(summary="", comparisons=[comp]))


def m(ev, text):
    return ev.match(find_numbers(text)[0]) is not None


@pytest.mark.parametrize("text", [r"93.2\%", "0.932", "0.93", r"93\%", "+0.016", "1.6 points", r"+1.6\%",
                                  "3 seeds", "p < 0.001", "p = 0.0004", "1.02x", r"$4 \times 10^{-4}$",
                                  r"\num{0.916}", "0.931"])
def test_traceable_numbers_match(evidence, text):
    assert m(evidence, text), text


@pytest.mark.parametrize("text", [r"95.1\%", "0.951", "+0.05", "-0.5", "2.5x", "p < 0.0001", "8", "0.8",
                                  "7 seeds", r"12\%", "0.9325"])
def test_fabricated_numbers_do_not_match(evidence, text):
    assert not m(evidence, text), text


def test_shown_precision_is_respected():
    ev = build_evidence([MetricRecord(method="a", dataset="d", metric="acc", value=0.9349)])
    assert ev.match(NumberMention("0.935", 0.935, 3, "plain", False, "", 0, 5))
    assert ev.match(NumberMention("0.93", 0.93, 2, "plain", False, "", 0, 4))
    assert not ev.match(NumberMention("0.936", 0.936, 3, "plain", False, "", 0, 5))


def test_number_words_are_claims_too():
    found = [(n.value, n.form) for n in find_numbers("three seeds, ninety-five percent, one of them, Twelve")]
    assert found == [(3.0, "plain"), (95.0, "percent"), (12.0, "plain")]


def test_percent_after_thin_space_and_per_cent():
    assert nums(r"93.2\,\% and 12 per cent") == [(93.2, "percent", False), (12.0, "percent", False)]


def test_counted_nouns_bind_the_number_to_that_count():
    from nanoresearch.types import DatasetCard
    card = DatasetCard(name="breast_cancer", domain="tabular", task="classification", source="sklearn",
                       size="569 samples x 30 features", n_samples=569)
    metrics = [MetricRecord(method="a", dataset="breast_cancer", metric="acc", value=0.9, seed=s) for s in range(3)]
    ev = build_evidence(metrics, cards=[card])
    ok = lambda t: ev.match(find_numbers(t)[0]) is not None  # noqa: E731
    assert ok("3 seeds") and ok("30 features") and ok("569 samples") and ok("three random seeds")
    assert not ok("3 features") and not ok("30 seeds") and not ok("569 features")
