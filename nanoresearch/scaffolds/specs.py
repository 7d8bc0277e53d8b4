"""Per-domain scaffold specs: which template runs a domain, which model families and
feature options its method slot accepts, and the default baselines / method per task.

The defaults are deliberately cheap (one core, < 60 s for three seeds) and honest: a
baseline keeps the name of what it really is.
"""
from __future__ import annotations

from typing import Any

STD = ["standardize"]

ZOO_CLF = ["logreg", "ridge", "linear_svm", "svm_rbf", "knn", "decision_tree", "random_forest",
           "extra_trees", "gbm", "mlp", "naive_bayes"]
ZOO_REG = ["ridge", "svm_rbf", "knn", "decision_tree", "random_forest", "extra_trees", "gbm", "mlp"]
CLF_METRICS = ["accuracy", "macro_f1", "auc"]
REG_METRICS = ["rmse", "mae", "r2"]


def _m(name: str, family: str, params: dict | None = None, steps: list | None = None,
       features: Any = None) -> dict:
    spec: dict[str, Any] = {"name": name, "family": family, "params": params or {}, "steps": steps or []}
    if features is not None:
        spec["features"] = features
    return spec


_SUPERVISED_CLF = {
    "families": ZOO_CLF, "metrics": CLF_METRICS,
    "baselines": [_m("Majority class", "majority"), _m("Logistic regression", "logreg", steps=STD),
                  _m("k-NN", "knn", {"n_neighbors": 5}, STD)],
    "method": _m("", "gbm", {"max_iter": 100, "learning_rate": 0.1}),
}

DOMAIN_SPECS: dict[str, dict[str, Any]] = {
    "tabular": {"template": "tabular.py", "default_dataset": "wine", "tasks": {
        "classification": _SUPERVISED_CLF,
        "regression": {
            "families": ZOO_REG, "metrics": REG_METRICS,
            "baselines": [_m("Mean predictor", "majority"), _m("Ridge regression", "ridge", steps=STD),
                          _m("k-NN", "knn", {"n_neighbors": 10}, STD)],
            "method": _m("", "gbm", {"max_iter": 100, "learning_rate": 0.05})}}},
    "audio": {"template": "audio.py", "default_dataset": "spoken_language_id", "tasks": {
        "classification": dict(_SUPERVISED_CLF, method=_m("", "svm_rbf", {"C": 10.0}, STD))}},
    "cv": {"template": "cv.py", "default_dataset": "digits",
           "features": {"kind": "choice", "options": ["pixels", "hog", "pixels+hog"]}, "tasks": {
        "classification": {
            "families": ZOO_CLF, "metrics": CLF_METRICS,
            "baselines": [_m("Logistic regression (pixels)", "logreg", {"C": 0.1}, STD, "pixels"),
                          _m("k-NN (pixels)", "knn", {"n_neighbors": 3}, None, "pixels")],
            "method": _m("", "svm_rbf", {"C": 10.0}, ["standardize", {"pca": 50}], "pixels+hog")}}},
    "nlp": {"template": "nlp.py", "default_dataset": "trump_tweets",
            "features": {"kind": "dict", "keys": {"analyzer": ["word", "char_wb"], "ngram_max": (1, 4),
                                                  "max_features": (100, 50000), "tfidf": "bool",
                                                  "hash_buckets": (16, 1048576)}}, "tasks": {
        "classification": {
            "families": ["logreg", "ridge", "linear_svm", "naive_bayes", "knn", "random_forest", "mlp"],
            "metrics": CLF_METRICS,
            "baselines": [_m("Majority class", "majority", features={"analyzer": "word"}),
                          _m("Naive Bayes (word counts)", "naive_bayes",
                             features={"analyzer": "word", "ngram_max": 1, "tfidf": False}),
                          _m("Logistic regression (word tf-idf)", "logreg", {"C": 10.0},
                             features={"analyzer": "word", "ngram_max": 1})],
            "method": _m("", "linear_svm", {"C": 0.5}, features={"analyzer": "char_wb", "ngram_max": 4})}}},
    "multimodal": {"template": "multimodal.py", "default_dataset": "twemoji",
                   "features": {"kind": "dict", "keys": {"modalities": ["image", "text"],
                                                         "text_weight": (0.1, 10.0)}}, "tasks": {
        "classification": {
            "families": ["logreg", "ridge", "linear_svm", "naive_bayes", "knn", "random_forest", "mlp"],
            "metrics": CLF_METRICS,
            "baselines": [_m("Majority class", "majority", features={"modalities": ["image"]}),
                          _m("Image-only logistic regression", "logreg", {"C": 1.0},
                             features={"modalities": ["image"]}),
                          _m("Text-only logistic regression", "logreg", {"C": 1.0},
                             features={"modalities": ["text"]})],
            "method": _m("", "logreg", {"C": 1.0}, features={"modalities": ["image", "text"],
                                                             "text_weight": 1.0})}}},
    "timeseries": {"template": "timeseries.py", "default_dataset": "co2", "tasks": {
        "forecasting": {
            "families": ["naive", "seasonal_naive", "mean", "drift", "ets"] + ZOO_REG,
            "metrics": ["mae", "rmse", "mase", "smape"],
            "features": {"kind": "dict", "keys": {"n_lags": (1, 60), "difference": "bool"}},
            "baselines": [_m("Naive", "naive"), _m("Seasonal naive", "seasonal_naive"),
                          _m("Holt-Winters ETS", "ets")],
            "method": _m("", "ridge", {"alpha": 1.0}, features={"n_lags": 24, "difference": True})},
        "classification": {
            "families": ZOO_CLF, "metrics": CLF_METRICS,
            "features": {"kind": "choice", "options": ["raw", "stats", {"rocket": (10, 1000)}]},
            "baselines": [_m("Majority class", "majority", features="raw"),
                          _m("1-NN (Euclidean)", "knn", {"n_neighbors": 1}, None, "raw"),
                          _m("Logistic regression (raw)", "logreg", steps=STD, features="raw")],
            "method": _m("", "ridge", {"alpha": 10.0}, STD, {"rocket": 200})}}},
    "graph": {"template": "graph.py", "default_dataset": "karate_club", "tasks": {
        "node_classification": {
            "families": ["label_propagation"] + ZOO_CLF, "metrics": ["accuracy", "macro_f1"],
            "features": {"kind": "subset", "options": ["adjacency", "spectral", "structural", "propagated"]},
            "baselines": [_m("Majority class", "majority"), _m("Label propagation", "label_propagation"),
                          _m("Logistic regression (adjacency)", "logreg", features=["adjacency"])],
            "method": _m("", "logreg", {"C": 1.0}, STD, ["spectral", "structural"])},
        "link_prediction": {
            "families": ["common_neighbors", "jaccard", "adamic_adar", "preferential_attachment"] + ZOO_CLF,
            "metrics": ["auc", "average_precision"],
            "baselines": [_m("Common neighbours", "common_neighbors"), _m("Jaccard", "jaccard"),
                          _m("Adamic-Adar", "adamic_adar")],
            "method": _m("", "random_forest", {"n_estimators": 100, "max_depth": 6})}}},
}

# keyword -> family, to keep a blueprint's baseline name when the scaffold really has it
BASELINE_KEYWORDS: list[tuple[tuple[str, ...], str]] = [
    (("logistic",), "logreg"), (("ridge",), "ridge"), (("linear svm", "linearsvc"), "linear_svm"),
    (("svm", "support vector"), "svm_rbf"), (("nearest", "knn", "k-nn"), "knn"),
    (("random forest",), "random_forest"), (("extra tree", "extremely randomized"), "extra_trees"),
    (("boost", "xgb", "lightgbm", "catboost"), "gbm"), (("decision tree", "cart"), "decision_tree"),
    (("mlp", "multilayer", "multi-layer", "feed-forward", "feedforward"), "mlp"),
    (("naive bayes", "bayes"), "naive_bayes"), (("majority", "dummy", "most frequent", "constant"), "majority"),
    (("seasonal naive",), "seasonal_naive"), (("naive", "persistence", "last value"), "naive"),
    (("exponential smoothing", "holt", "ets"), "ets"), (("drift",), "drift"),
    (("label propagation", "label spreading"), "label_propagation"),
    (("common neighbo",), "common_neighbors"), (("jaccard",), "jaccard"), (("adamic",), "adamic_adar"),
    (("preferential",), "preferential_attachment"), (("mean",), "mean"),
    # names researchers use for the same families (benchmark tasks: "1-NN Euclidean",
    # "AR(p) linear", "TF-IDF with full vocabulary", "early fusion" = features concatenated)
    (("1-nn", "nn euclidean", "k nearest"), "knn"), (("ar(", "autoregress", "linear regression", "linear ar",
                                                       "ar model"), "ridge"),
    (("tf-idf", "tfidf"), "logreg"), (("early fusion", "concatenat", "late fusion"), "logreg"),
]


def task_spec(domain: str, task: str) -> dict[str, Any]:
    tasks = DOMAIN_SPECS[domain]["tasks"]
    return tasks.get(task) or next(iter(tasks.values()))


def feature_spec(domain: str, task: str) -> dict[str, Any] | None:
    return task_spec(domain, task).get("features") or DOMAIN_SPECS[domain].get("features")
