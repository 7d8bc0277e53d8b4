"""An arm runs the technique its name states: random Fourier features, class reweighting,
decision-threshold tuning (cv_01's "random Fourier features" arm was a plain logistic
regression; tab_02's class-weighted baseline was merged into the unweighted one)."""
from __future__ import annotations

import numpy as np
import pytest

from nanoresearch.scaffolds import MethodFill, match_baseline, techniques, validate_fill
from nanoresearch.scaffolds.build import align_technique_arm, choose_baselines, mirror_arms
from nanoresearch.scaffolds.templates.nr_common import make_estimator, method_specs


def _match(domain: str, task: str = "classification"):
    return lambda n: match_baseline(domain, task, n)


def test_names_state_techniques_and_negations():
    assert [t.name for t, neg in techniques.named("Random Fourier features with a linear classifier")] == \
        ["random Fourier features"]
    assert [t.name for t, _ in techniques.named("class-weighted logistic regression")] == ["class reweighting"]
    assert [t.name for t, _ in techniques.named("Decision-threshold tuning on a validation split")] == \
        ["decision-threshold tuning"]
    # "default threshold" names no tuning; "without RFF" is the arm without it
    assert techniques.named("default threshold logistic regression") == []
    assert techniques.named("linear classifier without random Fourier features")[0][1] is True


def test_tab02_named_baselines_both_run_and_differ_in_the_weighting():
    notes: list[str] = []
    bs = choose_baselines("tabular", "classification",
                          ["default threshold logistic regression", "class-weighted logistic regression"],
                          _match("tabular"), notes)
    by = {b["name"]: b for b in bs}
    assert "class-weighted logistic regression" in by, notes
    assert by["class-weighted logistic regression"]["class_weight"] == "balanced"
    assert "class_weight" not in by["default threshold logistic regression"]
    method, _, _ = validate_fill("tabular", "classification", MethodFill(family="logreg"),
                                 "Decision-threshold tuning on a validation split")
    method = align_technique_arm(method, bs, "tabular", "classification", notes)
    # the tuned arm is the default-threshold baseline plus the tuning, nothing else
    assert method["threshold"] == "tuned" and method["steps"] == by["default threshold logistic regression"]["steps"]
    assert techniques.missing(method) == []


def test_cv01_rff_arm_maps_features_and_copies_the_plain_baseline():
    notes: list[str] = []
    bs = choose_baselines("cv", "classification", ["logistic regression on pixels"], _match("cv"), notes)
    method, _, _ = validate_fill("cv", "classification", MethodFill(family="logreg", features="pixels+hog"),
                                 "Random Fourier features with a linear classifier")
    assert {"rff": techniques.RFF_COMPONENTS} in method["steps"]
    method = align_technique_arm(method, bs, "cv", "classification", notes)
    plain = next(b for b in bs if b["name"] == "logistic regression on pixels")
    assert method["features"] == plain["features"] and method["params"] == plain["params"]
    assert method["steps"] == ["standardize", {"rff": techniques.RFF_COMPONENTS}]


def test_a_technique_the_family_cannot_run_is_said_and_caught():
    notes: list[str] = []
    bs = choose_baselines("tabular", "classification", ["class-weighted k-NN"], _match("tabular"), notes)
    knn = next(b for b in bs if b["name"] == "class-weighted k-NN")
    assert "class_weight" not in knn
    assert any("cannot run" in n for n in notes)
    assert techniques.missing(knn) == ["class reweighting"]  # paper_quality's design check sees it


def test_a_mirrored_arm_that_merges_is_recorded():
    notes: list[str] = []
    method = {"name": "SVM without shift augmentation", "family": "svm_rbf", "params": {}, "steps": []}
    out = mirror_arms([{"name": "SVM without augmentation", "family": "svm_rbf", "params": {"C": 3.0}, "steps": []}],
                      method, "cv", notes)
    assert out == [] and "is the same configuration as 'SVM without shift augmentation'" in notes[0]


def test_the_harness_runs_each_technique():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 6))
    y = (X[:, 0] + 0.5 * rng.normal(size=600) > 1.6).astype(int)  # about 7% positives
    cfg = {"primary_metric": "macro_f1", "baselines": [], "ablations": [],
           "method": {"name": "t", "family": "logreg", "params": {}, "steps": ["standardize"], "threshold": "tuned"}}
    spec = method_specs(cfg)[0]
    tuned = make_estimator(spec, 0, "clf").fit(X, y)
    assert type(tuned).__name__ == "TunedThresholdClassifierCV" and tuned.scoring == "f1_macro"
    assert abs(tuned.best_threshold_ - 0.5) > 0.05  # on imbalanced data the tuned cut-off moves
    weighted = make_estimator({"family": "logreg", "class_weight": "balanced"}, 0, "clf").fit(X, y)
    assert weighted.class_weight == "balanced"
    assert weighted.predict(X).mean() > make_estimator({"family": "logreg"}, 0, "clf").fit(X, y).predict(X).mean()
    rff = make_estimator({"family": "logreg", "steps": ["standardize", {"rff": 50}]}, 0, "clf").fit(X, y)
    assert rff.named_steps["rbfsampler"].n_components == 50
    with pytest.raises(ValueError, match="takes no class weights"):
        make_estimator({"family": "knn", "class_weight": "balanced"}, 0, "clf")


def test_ts04_per_channel_selection_keeps_half_of_each_channels_features(monkeypatch):
    from pathlib import Path

    from nanoresearch.scaffolds.templates import nr_common

    monkeypatch.syspath_prepend(str(Path(nr_common.__file__).parent))  # templates import nr_common as run.py does
    from nanoresearch.scaffolds.templates.timeseries import classification_featurize, per_channel_select

    method, _, _ = validate_fill("timeseries", "classification", MethodFill(family="random_forest"),
                                 "Per-channel feature selection")
    assert method["channel_select"] == techniques.CHANNEL_KEEP and techniques.missing(method) == []
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3, 20)).astype(np.float32)
    y = np.repeat([0, 1], 40)
    X[y == 1, 2, :5] += 3.0  # only channel 2's first steps carry the class
    tr, te = np.arange(0, 80, 2), np.arange(1, 80, 2)
    full = classification_featurize({"X": X, "y": y}, tr, te, {"features": "raw"})[0]
    sel = classification_featurize({"X": X, "y": y}, tr, te, {"features": "raw", "channel_select": 0.5})[0]
    assert full.shape[1] == 60 and sel.shape[1] == 30  # 10 of each channel's 20
    mask = per_channel_select(full, y[tr], np.repeat(np.arange(3), 20), 0.25)  # full: the training rows
    assert mask[40:45].all()  # the informative steps of channel 2 are kept
    # a harness without channels says so instead of pretending
    notes: list[str] = []
    techniques.apply({"family": "logreg"}, "per-channel feature selection", "clf", notes, "tabular")
    assert "the tabular harness cannot run" in notes[0]


def test_audio02_arms_run_on_the_feature_blocks_they_name():
    """audio_02 asks whether delta statistics added to LPC-cepstrum means help; its "SVM on
    cepstrum means" ran on all 48 statistics and the proposed arm on the same 48 with
    another C, so the question was never tested."""
    from nanoresearch.datasets import feature_blocks, get_catalog, load
    from nanoresearch.scaffolds.build import select_blocks
    from nanoresearch.scaffolds.templates.nr_common import select_columns

    card = get_catalog()["japanese_vowels"]
    X = load("japanese_vowels").arrays["X"]
    assert X.shape[1] == max(e for _, e in card.feature_blocks.values()) == 72
    blocks = feature_blocks(["japanese_vowels"])
    notes: list[str] = []
    base = select_blocks(choose_baselines("audio", "classification", ["SVM on cepstrum means"],
                                          _match("audio"), notes)[0], blocks)
    method, _, _ = validate_fill("audio", "classification", MethodFill(family="svm_rbf", params={"C": 10.0}),
                                 "Adding delta statistics to LPC-cepstrum means")
    method = align_technique_arm(select_blocks(method, blocks), [base], "audio", "classification", notes, blocks)
    assert base["columns"] == [[0, 12]] and method["columns"] == [[0, 12], [48, 72]]
    assert method["params"] == base["params"]  # the two arms differ in the delta block alone
    assert select_columns({"X": X}, method)["X"].shape[1] == 36
    # delta statistics are the mean/std of frame-to-frame differences, not a copy of the means
    assert not np.allclose(X[:, 48:60], X[:, 0:12])


def test_the_harness_constants_match_what_the_paper_says():
    """nr_common runs in the sandbox without nanoresearch, so it keeps its own copy."""
    from nanoresearch.scaffolds.templates import nr_common

    assert nr_common.THRESHOLD_VALIDATION == techniques.THRESHOLD_VALIDATION

