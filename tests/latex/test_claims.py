"""The claim gate: sentences claiming a venue, publication, award or date that no reference
or project fact backs, and sentences characterising a method family contrary to the fact
table, are dropped (with the reason); true and neutral sentences survive."""
import pytest

from nanoresearch.latex.claims import claim_reason
from nanoresearch.latex.prose import gate_prose
from nanoresearch.types import LiteratureRecord

BAD = [  # as small models write them (issue 18 and the embedded model's drafts)
    "k-NN is based on a linear model.",
    "The k-nearest neighbours classifier is a parametric method that learns weights.",
    "Logistic regression is a non-linear classifier.",
    "Random forest is a boosting method over decision trees.",
    "SVMs are probabilistic generative models.",
    "Naive Bayes is a discriminative model.",
    "Logistic regression, a tree-based model, is fast.",
    "An MLP is a linear model of the features.",
    "This method was published in JMLR.",
    "The SVM was introduced in 1995 by Vapnik.",
    "Their work won the best paper award at ICML.",
    "Gradient boosting was presented at NeurIPS as the strongest tabular learner.",
]
GOOD = [
    "k-NN is an instance-based, non-parametric classifier.",
    "Logistic regression is a linear model.",
    "k-NN is not a linear model.",
    "Unlike logistic regression, k-NN is a non-parametric method.",
    "Random forest is a bagged ensemble of decision trees.",
    "SVM is a margin-based classifier.",
    "k-NN outperforms the linear model on breast_cancer.",
    "We compare k-NN with a linear model and a tree ensemble.",
    "Naive Bayes is a probabilistic classifier.",
    "Gradient boosting is a boosted tree ensemble.",
    "The MLP is a neural network with one hidden layer.",
    "Table 2 reports the accuracy of k-NN and SVM.",
    "Smith et al. \\citep{smith} study feature scaling for k-NN.",
    "We report results on the breast_cancer data.",
]


@pytest.mark.parametrize("sentence", BAD)
def test_false_claims_are_dropped(sentence):
    assert claim_reason(sentence), sentence


@pytest.mark.parametrize("sentence", GOOD)
def test_true_and_neutral_sentences_survive(sentence):
    assert claim_reason(sentence) is None, claim_reason(sentence)


def test_a_venue_or_year_the_references_back_is_allowed():
    ref = LiteratureRecord(id="arxiv:1", title="Feature scaling for nearest neighbours", year=2019,
                           venue="Journal of Machine Learning Research (JMLR)", authors=["A. B"])
    assert claim_reason("Feature scaling was published in JMLR in 2019.", [ref]) is None
    assert claim_reason("Feature scaling was published in JMLR in 2017.", [ref])
    assert claim_reason("The data were collected in 1995.", facts="Wisconsin data collected in 1995") is None
    assert claim_reason("We train on 1900 samples and test on the rest.") is None  # a count, not a date


def test_gate_keeps_the_paragraph_and_reports_the_dropped_claims():
    text = "Logistic regression is a linear model. k-NN is based on a linear model. We train both."
    kept, reasons = gate_prose(text)
    assert kept == "Logistic regression is a linear model. We train both."
    assert len(reasons) == 1 and "contradicts the method facts" in reasons[0] and "k-NN" in reasons[0]
