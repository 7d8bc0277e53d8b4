"""Scaling and robustness designs run in the seeded harness: a data-size question becomes
learning curves (models trained on shares of the training split), a robustness question
perturbed test sets (per modality for multimodal), and every method records its fit time
and peak memory; tab_03's quantile transformation and mm_02's late fusion are runnable."""
import json

from actors.planning_design import derive_design
from nanoresearch.scaffolds.build import apply_condition, capacity_base, choose_baselines, design_config
from nanoresearch.scaffolds import match_baseline
from nanoresearch.types import MetricRecord, ResearchTopic
from tests.datasets.test_scaffolds import materialize, run_experiment


def _records(work):
    return [MetricRecord.model_validate(r) for r in json.loads((work / "metrics.json").read_text())]


def test_data_size_question_runs_learning_curves_and_records_efficiency(tmp_path):
    topic = ResearchTopic(problem_statement="How does the RMSE gap between kernel ridge regression and "
                          "gradient boosting on the diabetes data change as the training set shrinks "
                          "from 100% to 25%?", domain="Tabular", datasets=["diabetes"])
    d = derive_design(topic)
    assert d.kind == "scaling" and d.factor == "training-set size" and not d.unrealised
    extra = design_config(d.kind, d.levels, "tabular")
    assert extra == {"train_fractions": [0.25, 0.5, 0.75]}
    cfg = materialize(tmp_path, "tabular", "diabetes", "regression", seeds=(0, 1))
    cfg.update(extra)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    proc, _ = run_experiment(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = _records(tmp_path)
    splits = {r.split for r in recs}
    assert {"test", "efficiency", "train_fraction=0.25", "train_fraction=0.5", "train_fraction=0.75"} <= splits
    eff = [r for r in recs if r.split == "efficiency"]
    assert {r.metric for r in eff} == {"fit_seconds", "peak_memory_mb", "model_size_kb"}
    assert {r.method for r in eff} == {r.method for r in recs if r.split == "test"}
    assert all(r.value > 0 for r in eff if r.metric == "peak_memory_mb")
    # less data, worse fit: the 25% curve point of gradient boosting has a higher RMSE than the full one
    def mean(split):
        v = [r.value for r in recs if r.split == split and r.metric == "rmse" and r.method == "Proposed"]
        return sum(v) / len(v)
    assert mean("train_fraction=0.25") > mean("test")
    assert (tmp_path / "figures" / "learning_curve.png").stat().st_size > 1000


def test_robustness_question_runs_per_modality_noise_with_late_fusion(tmp_path):
    topic = ResearchTopic(problem_statement="Is late fusion more robust than early fusion for emoji "
                          "categorisation when one modality is corrupted by noise at test time?",
                          domain="Multimodal", datasets=["twemoji"])
    d = derive_design(topic)
    assert d.kind == "robustness" and not d.unrealised and d.levels[0] == "clean test set"
    extra = design_config(d.kind, d.levels, "multimodal")
    assert {p["block"] for p in extra["test_perturbations"]} == {"image", "text"}
    assert match_baseline("multimodal", "classification", "late fusion") == "logreg"
    notes: list[str] = []
    bases = choose_baselines("multimodal", "classification", ["early fusion", "late fusion"],
                             lambda n: match_baseline("multimodal", "classification", n), notes, cap=2)
    assert [b["features"] for b in bases] == [{"modalities": ["image", "text"]},
                                               {"modalities": ["image", "text"], "fusion": "late"}]
    cfg = materialize(tmp_path, "multimodal", "twemoji", "classification", seeds=(0,))
    cfg.update(extra, baselines=bases, max_train=600)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    proc, _ = run_experiment(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = _records(tmp_path)
    perturbed = {r.split for r in recs if r.split.startswith("perturbed:")}
    assert perturbed == {f"perturbed:{p['name']}" for p in extra["test_perturbations"]}
    scores = {(r.method, r.split, r.metric): r.value for r in recs}
    # late fusion is a different model from early fusion (not a renamed copy)
    assert scores[("late fusion", "test", "macro_f1")] != scores[("early fusion", "test", "macro_f1")]
    # noise on the image features hurts the early-fusion model at the strongest level
    noisy = "perturbed:gaussian noise on the image features (level 1)"
    assert scores[("early fusion", noisy, "accuracy")] < scores[("early fusion", "test", "accuracy")]
    assert (tmp_path / "figures" / "robustness.png").stat().st_size > 1000


def test_quantile_transformation_is_a_runnable_factorial_level(tmp_path):
    topic = ResearchTopic(problem_statement="How much do standardisation and quantile transformation change "
                          "the accuracy of k-NN, SVM and logistic regression on breast-cancer diagnosis?",
                          domain="tabular", datasets=["breast_cancer"])
    d = derive_design(topic)
    assert d.kind == "factorial" and d.levels == ["without preprocessing", "with standardisation",
                                                  "with quantile transformation"]
    assert len(d.arms) == 9
    assert apply_condition({"steps": ["standardize"]}, "SVM with quantile transformation")["steps"] == ["quantile"]
    assert apply_condition({"steps": ["standardize"]}, "SVM without preprocessing")["steps"] == []
    cfg = materialize(tmp_path, "tabular", "breast_cancer", "classification", seeds=(0,))
    cfg["baselines"] = [{"name": "k-NN with quantile transformation", "family": "knn", "params": {},
                         "steps": ["quantile"]}]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    proc, _ = run_experiment(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert any(r.method == "k-NN with quantile transformation" for r in _records(tmp_path))


def _mean(recs, method, split, metric):
    v = [r.value for r in recs if r.method == method and r.split == split and r.metric == metric]
    assert v, (method, split, metric)
    return sum(v) / len(v)


def test_a_pca_capacity_question_refits_the_named_method_at_each_level(tmp_path):
    """cv_03's question, on the 8x8 digits so it runs in seconds: k-NN on raw pixels is
    refitted on 10..200 principal components, plain and whitened; the levels really differ
    (whitening changes the distances k-NN sees) and fewer components make a smaller model."""
    topic = ResearchTopic(problem_statement=json.load(open("benchmarks/tasks/cv_03.json"))["problem_statement"],
                          domain="CV", datasets=["digits"])
    d = derive_design(topic)
    assert d.kind == "capacity" and d.factor == "number of principal components" and not d.unrealised
    assert "10 whitened principal components" in d.levels and len(d.levels) == 10
    extra = design_config(d.kind, d.levels, "cv")
    assert extra["capacity"][0] == {"name": "10 principal components", "pca": 10, "whiten": False}
    notes: list[str] = []
    match = lambda n: match_baseline("cv", "classification", n)  # noqa: E731
    bases = choose_baselines("cv", "classification", ["k-NN on raw pixels"], match, notes, cap=1)
    assert capacity_base(bases, [*d.methods, "k-NN on raw pixels"], match) == "k-NN on raw pixels"
    cfg = materialize(tmp_path, "cv", "digits", "classification", seeds=(0, 1))
    # 64 pixels: levels above that are not run on digits
    caps = [c for c in extra["capacity"] if c["pca"] <= 50]
    cfg.update(capacity=caps, capacity_base="k-NN on raw pixels", baselines=bases)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    proc, _ = run_experiment(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = _records(tmp_path)
    knn = "k-NN on raw pixels"
    assert {r.split for r in recs if r.split.startswith("capacity:")} == {f"capacity:{c['name']}" for c in caps}
    assert not {r.method for r in recs if r.split.startswith("capacity")} - {knn}  # only the named method
    plain, white = (_mean(recs, knn, f"capacity:10 {w}principal components", "accuracy") for w in ("", "whitened "))
    assert plain != white
    assert _mean(recs, knn, "capacity:50 principal components", "accuracy") > \
        _mean(recs, knn, "capacity:10 principal components", "accuracy") - 0.02
    size10 = _mean(recs, knn, "capacity_cost:10 principal components", "model_size_kb")
    assert size10 < _mean(recs, knn, "efficiency", "model_size_kb")  # k-NN keeps its (projected) training set


def test_a_hash_bucket_question_hashes_the_reference_features(tmp_path):
    """nlp_03: the exact-vocabulary TF-IDF baseline is refitted with its words hashed into
    256..65536 buckets; the model keeps no vocabulary, and 256 buckets cost accuracy."""
    q = json.load(open("benchmarks/tasks/nlp_03.json"))
    topic = ResearchTopic(problem_statement=q["problem_statement"], domain="NLP", datasets=q["datasets"])
    d = derive_design(topic)
    assert d.kind == "capacity" and d.levels[0] == "256 hash buckets" and len(d.levels) == 5
    extra = design_config(d.kind, d.levels, "nlp")
    notes: list[str] = []
    match = lambda n: match_baseline("nlp", "classification", n)  # noqa: E731
    bases = choose_baselines("nlp", "classification", q["baselines"], match, notes, cap=1)
    base = capacity_base(bases, [*d.methods, *q["baselines"]], match)
    assert base == "TF-IDF with full vocabulary"
    cfg = materialize(tmp_path, "nlp", "trump_tweets", "classification", seeds=(0,))
    cfg.update(capacity=[c for c in extra["capacity"] if c["hash_buckets"] in (256, 16384)], capacity_base=base,
               baselines=bases)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    proc, _ = run_experiment(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = _records(tmp_path)
    exact = _mean(recs, base, "test", "accuracy")
    assert _mean(recs, base, "capacity:256 hash buckets", "accuracy") < exact
    # no vocabulary to keep: hashed into 256 buckets the model is smaller than with the vocabulary
    assert _mean(recs, base, "capacity_cost:256 hash buckets", "model_size_kb") < \
        _mean(recs, base, "efficiency", "model_size_kb")


def test_shift_augmentation_is_a_factorial_level_that_really_augments(tmp_path):
    """cv_02: "Does one-pixel shift augmentation improve an RBF SVM and a random forest on
    digits?" is {SVM, random forest} x {without, with shift augmentation}; the 'with' arms
    train on every image plus its four one-pixel shifts (a different model, not a rename)."""
    q = json.load(open("benchmarks/tasks/cv_02.json"))
    d = derive_design(ResearchTopic(problem_statement=q["problem_statement"], domain="CV", datasets=["digits"]))
    assert d.kind == "factorial" and d.levels == ["without shift augmentation", "with shift augmentation"]
    assert d.arms == ["SVM without shift augmentation", "SVM with shift augmentation",
                      "random forest without shift augmentation", "random forest with shift augmentation"]
    notes: list[str] = []
    bases = choose_baselines("cv", "classification", d.arms, lambda n: match_baseline("cv", "classification", n),
                             notes, cap=4)
    assert [(b["family"], b.get("augment")) for b in bases] == [
        ("svm_rbf", None), ("svm_rbf", "shift"), ("random_forest", None), ("random_forest", "shift")]
    cfg = materialize(tmp_path, "cv", "digits", "classification", seeds=(0,))
    cfg.update(baselines=bases, max_train=400)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    proc, _ = run_experiment(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = _records(tmp_path)
    for fam in ("SVM", "random forest"):
        plain = _mean(recs, f"{fam} without shift augmentation", "test", "accuracy")
        aug = _mean(recs, f"{fam} with shift augmentation", "test", "accuracy")
        assert plain != aug
        # five times the training rows: the fitted model keeps more (support vectors, tree nodes)
        assert _mean(recs, f"{fam} with shift augmentation", "efficiency", "model_size_kb") > \
            _mean(recs, f"{fam} without shift augmentation", "efficiency", "model_size_kb")


def test_augment_train_shifts_each_training_image_and_keeps_test_rows():
    import numpy as np

    from nanoresearch.scaffolds.templates.nr_common import augment_train
    imgs = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3) + 1
    arrays, y = {"images": imgs}, np.array([0, 1])
    out, lab, idx = augment_train(arrays, y, np.array([0]), "shift")
    assert out["images"].shape == (6, 3, 3) and list(lab) == [0, 1, 0, 0, 0, 0] and list(idx) == [0, 2, 3, 4, 5]
    assert (out["images"][1] == imgs[1]).all()  # the test row is untouched
    down = out["images"][2]
    assert (down[0] == 0).all() and (down[1:] == imgs[0][:-1]).all()


def test_factorial_arms_of_the_proposed_family_differ_from_it_only_in_their_condition():
    from nanoresearch.scaffolds.build import mirror_arms
    method = {"name": "SVM without shift augmentation", "family": "svm_rbf", "params": {"C": 10.0},
              "steps": ["standardize"], "features": "pixels+hog"}
    bases = [{"name": "SVM with shift augmentation", "family": "svm_rbf", "params": {}, "steps": [],
              "augment": "shift"},
             {"name": "random forest with shift augmentation", "family": "random_forest", "params": {},
              "steps": [], "augment": "shift"}]
    svm, rf = mirror_arms(bases, method, "cv")
    assert svm == dict(method, name="SVM with shift augmentation", augment="shift")
    assert rf == bases[1]
    # cv_02's named baseline "SVM without augmentation" is the proposed arm under another name: run once
    named = {"name": "SVM without augmentation", "family": "svm_rbf", "params": {}, "steps": []}
    assert [b["name"] for b in mirror_arms([*bases, named], method, "cv")] == [b["name"] for b in bases]
    # a standardisation factorial: the 'with' arm adds the step to the proposed configuration
    knn = {"name": "k-NN without standardisation", "family": "knn", "params": {"n_neighbors": 7}, "steps": []}
    (with_std,) = mirror_arms([{"name": "k-NN with standardisation", "family": "knn", "params": {},
                                "steps": ["standardize"]}], knn, "tabular")
    assert with_std["params"] == {"n_neighbors": 7} and with_std["steps"] == ["standardize"]


def test_an_ablation_that_is_a_baseline_under_another_name_is_not_run_twice():
    from nanoresearch.scaffolds.build import ablation_variants
    method = {"name": "MFCC statistics with a linear classifier", "family": "logreg", "params": {},
              "steps": ["standardize", "minmax"], "features": None}
    base = {"name": "logistic regression on log-mel statistics", "family": "logreg", "params": {},
            "steps": ["standardize"], "features": None}
    names = [a["name"] for a in ablation_variants("audio", "classification", method, 3, [base])]
    assert names == ["MFCC statistics with a linear classifier w/o standardize"]
    # what each ablation arm changes; the baseline that is "... w/o minmax" stands in for it
    from nanoresearch.scaffolds.build import ablation_changes
    arms = ablation_variants("audio", "classification", method, 3, [base])
    assert ablation_changes("audio", "classification", method, arms, [base]) == {
        "MFCC statistics with a linear classifier w/o standardize": "w/o standardize",
        "logistic regression on log-mel statistics": "w/o minmax"}


def test_noise_on_a_modality_a_method_does_not_see_leaves_its_input_clean():
    """mm_02 (2026-12-03): the image-only majority baseline crashed the run under text
    noise ('perturbation block text unknown'); it does not see text, so its input is clean."""
    import numpy as np

    from nanoresearch.scaffolds.templates.nr_common import perturb
    Xtr, Xte = np.ones((4, 3), dtype=np.float32), np.zeros((2, 3), dtype=np.float32)
    p = {"kind": "gaussian_noise", "level": 1.0, "block": "text"}
    assert perturb(Xte, Xtr, p, 0, {"image": (0, 3)}) is Xte
    noisy = perturb(Xte, Xtr + np.arange(3), p, 0, {"image": (0, 1), "text": (1, 3)})
    assert (noisy[:, 0] == 0).all() and (noisy[:, 1:] != 0).any()
