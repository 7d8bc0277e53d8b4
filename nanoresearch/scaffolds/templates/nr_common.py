"""Shared runtime of the nanoresearch experiment scaffolds (copied next to run.py).

It loads the staged data (data/<name>.npz + .json), builds methods from a small set of
validated building blocks (model family + hyperparameters + preprocessing steps, or a
user `method.py` with build_model(seed, params)), runs every seed, and writes the only
thing that counts as a result: metrics.json, a list of
{method, dataset, metric, value, seed, split}, plus figures under figures/.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# family -> task kinds it serves and its tunable params: name -> (type, low, high)
FAMILIES = {
    "majority": {"kinds": ["clf", "reg"], "params": {}},
    "logreg": {"kinds": ["clf"], "params": {"C": (float, 1e-4, 1e4)}},
    "ridge": {"kinds": ["reg", "clf"], "params": {"alpha": (float, 1e-6, 1e4)}},
    "linear_svm": {"kinds": ["clf"], "params": {"C": (float, 1e-4, 1e4)}},
    "svm_rbf": {"kinds": ["clf", "reg"], "params": {"C": (float, 1e-3, 1e4)}},
    "knn": {"kinds": ["clf", "reg"], "params": {"n_neighbors": (int, 1, 50)}},
    "decision_tree": {"kinds": ["clf", "reg"], "params": {"max_depth": (int, 1, 30)}},
    "random_forest": {"kinds": ["clf", "reg"], "params": {"n_estimators": (int, 10, 300),
                                                          "max_depth": (int, 1, 30)}},
    "extra_trees": {"kinds": ["clf", "reg"], "params": {"n_estimators": (int, 10, 300),
                                                        "max_depth": (int, 1, 30)}},
    "gbm": {"kinds": ["clf", "reg"], "params": {"max_iter": (int, 10, 300), "learning_rate": (float, 0.01, 1.0),
                                               "max_depth": (int, 1, 12)}},
    "mlp": {"kinds": ["clf", "reg"], "params": {"hidden": (int, 4, 256), "alpha": (float, 1e-6, 1.0),
                                               "max_iter": (int, 20, 400)}},
    "naive_bayes": {"kinds": ["clf"], "params": {"alpha": (float, 1e-3, 10.0)}},
}
STEPS = {"standardize": None, "minmax": None, "quantile": None, "pca": (int, 1, 256), "pca_whiten": (int, 1, 256),
         "select_k": (int, 1, 512), "rff": (int, 10, 4000)}
# spec["threshold"] == "tuned": the decision threshold is tuned on this share of the training
# split for the primary metric (sklearn scorer below), then the model is refitted on all of it
THRESHOLD_VALIDATION = 0.25
THRESHOLD_SCORERS = {"macro_f1": "f1_macro", "accuracy": "accuracy", "f1": "f1", "recall": "recall",
                     "balanced_accuracy": "balanced_accuracy"}
# test-time perturbations a robustness design may ask for (config "test_perturbations")
PERTURBATIONS = ("gaussian_noise", "feature_dropout", "shift")
HIGHER_IS_BETTER = {"accuracy", "macro_f1", "auc", "average_precision", "r2"}


def load_config(path: str | Path = "config.json") -> dict:
    return json.loads((HERE / path).read_text())


def load_dataset(name: str, cfg: dict) -> tuple[dict, dict]:
    """Arrays and the card/meta document of a staged dataset (never the network)."""
    data_dir = Path(os.environ.get("NR_DATA_DIR") or HERE / cfg.get("data_dir", "data"))
    npz, doc = data_dir / f"{name}.npz", data_dir / f"{name}.json"
    if not npz.exists():
        raise FileNotFoundError(f"staged dataset {npz} missing: stage it with "
                                f"nanoresearch.datasets.stage({name!r}, {str(data_dir)!r})")
    with np.load(npz, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return arrays, json.loads(doc.read_text())


def clean_params(family: str, params: dict | None) -> dict:
    """Coerce and clamp to the family's allowed ranges; unknown keys are dropped."""
    spec = FAMILIES[family]["params"]
    out = {}
    for k, v in (params or {}).items():
        if k in spec and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            typ, lo, hi = spec[k]
            out[k] = typ(min(max(v, lo), hi))
    return out


def make_estimator(spec: dict, seed: int, kind: str, sparse: bool = False):
    """A fresh sklearn-style estimator (fit/predict) for a method spec."""
    family = spec.get("family", "logreg")
    if family == "custom":
        return _custom(spec, seed)
    if family not in FAMILIES or kind not in FAMILIES[family]["kinds"]:
        raise ValueError(f"family {family!r} cannot do {kind}; choose from "
                         f"{sorted(f for f, d in FAMILIES.items() if kind in d['kinds'])}")
    p = clean_params(family, spec.get("params"))
    est = _family(family, p, seed, kind, sparse)
    if spec.get("class_weight"):  # "class-weighted ...": loss weighted inversely to class frequency
        if kind != "clf" or "class_weight" not in est.get_params():
            raise ValueError(f"family {family!r} takes no class weights for {kind}; choose from "
                             "logreg, ridge, linear_svm, svm_rbf, decision_tree, random_forest, extra_trees, gbm")
        est.set_params(class_weight=spec["class_weight"])
    est = _with_steps(spec.get("steps") or [], est, seed, sparse)
    if spec.get("threshold") == "tuned":
        if kind != "clf":
            raise ValueError("decision-threshold tuning needs a classifier")
        from sklearn.model_selection import TunedThresholdClassifierCV

        scoring = THRESHOLD_SCORERS.get(spec.get("threshold_metric") or "macro_f1", "f1_macro")
        est = TunedThresholdClassifierCV(est, scoring=scoring, cv=THRESHOLD_VALIDATION, refit=True,
                                         random_state=seed)
    return est


def _family(family: str, p: dict, seed: int, kind: str, sparse: bool = False):
    from sklearn import dummy, ensemble, linear_model, naive_bayes, neighbors, neural_network, svm, tree

    clf = kind == "clf"
    if family == "majority":
        return dummy.DummyClassifier(strategy="most_frequent") if clf else dummy.DummyRegressor()
    if family == "logreg":
        return linear_model.LogisticRegression(C=p.get("C", 1.0), max_iter=2000)
    if family == "ridge":
        return (linear_model.RidgeClassifier if clf else linear_model.Ridge)(alpha=p.get("alpha", 1.0))
    if family == "linear_svm":
        return svm.LinearSVC(C=p.get("C", 1.0), max_iter=5000)
    if family == "svm_rbf":
        return (svm.SVC if clf else svm.SVR)(C=p.get("C", 1.0))
    if family == "knn":
        return (neighbors.KNeighborsClassifier if clf else neighbors.KNeighborsRegressor)(
            n_neighbors=p.get("n_neighbors", 5))
    if family == "decision_tree":
        return (tree.DecisionTreeClassifier if clf else tree.DecisionTreeRegressor)(
            max_depth=p.get("max_depth"), random_state=seed)
    if family in ("random_forest", "extra_trees"):
        cls = {("random_forest", True): ensemble.RandomForestClassifier,
               ("random_forest", False): ensemble.RandomForestRegressor,
               ("extra_trees", True): ensemble.ExtraTreesClassifier,
               ("extra_trees", False): ensemble.ExtraTreesRegressor}[(family, clf)]
        return cls(n_estimators=p.get("n_estimators", 100), max_depth=p.get("max_depth"),
                   random_state=seed, n_jobs=1)
    if family == "gbm":
        cls = ensemble.HistGradientBoostingClassifier if clf else ensemble.HistGradientBoostingRegressor
        return cls(max_iter=p.get("max_iter", 100), learning_rate=p.get("learning_rate", 0.1),
                   max_depth=p.get("max_depth"), random_state=seed)
    if family == "mlp":
        cls = neural_network.MLPClassifier if clf else neural_network.MLPRegressor
        return cls(hidden_layer_sizes=(p.get("hidden", 64),), alpha=p.get("alpha", 1e-4),
                   max_iter=p.get("max_iter", 200), early_stopping=False, random_state=seed)
    if family == "naive_bayes":  # counts / tf-idf (sparse, non-negative) want the multinomial model
        return naive_bayes.MultinomialNB(alpha=p.get("alpha", 1.0)) if sparse else naive_bayes.GaussianNB()
    raise ValueError(f"unknown family {family!r}")


def _with_steps(steps: list, est, seed: int, sparse: bool):
    from sklearn import decomposition, feature_selection, pipeline, preprocessing

    parts = []
    for st in steps:
        name, arg = (st, None) if isinstance(st, str) else next(iter(st.items()))
        if name == "standardize":
            parts.append(preprocessing.StandardScaler(with_mean=not sparse))
        elif name == "minmax":
            parts.append(preprocessing.MaxAbsScaler())
        elif name == "quantile":  # rank-based map of every feature to a standard normal
            parts.append(preprocessing.QuantileTransformer(output_distribution="normal",
                                                           n_quantiles=100, random_state=seed))
        elif name in ("pca", "pca_whiten"):  # whitening: every component scaled to unit variance
            parts.append(decomposition.TruncatedSVD(n_components=int(arg or 20), random_state=seed)
                         if sparse else decomposition.PCA(n_components=int(arg or 20), whiten=name == "pca_whiten",
                                                          random_state=seed))
        elif name == "select_k":
            parts.append(feature_selection.SelectKBest(k=int(arg or 20)))
        elif name == "rff":  # random Fourier features of an RBF kernel, bandwidth 1/(d Var X)
            from sklearn.kernel_approximation import RBFSampler

            parts.append(RBFSampler(gamma="scale", n_components=int(arg or 1000), random_state=seed))
        else:
            raise ValueError(f"unknown step {name!r}; choose from {sorted(STEPS)}")
    return pipeline.make_pipeline(*parts, est) if parts else est


def _custom(spec: dict, seed: int):
    import importlib.util

    path = HERE / spec.get("module", "method.py")
    mod_spec = importlib.util.spec_from_file_location("nr_method", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    return mod.build_model(seed, dict(spec.get("params") or {}))


# ----------------------------------------------------------------------------- evaluation
def split_indices(y: np.ndarray | None, n: int, seed: int, test_frac: float = 0.3,
                  stratify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    strat = y if (stratify and y is not None and np.bincount(y).min() >= 2) else None
    return train_test_split(idx, test_size=test_frac, random_state=seed, stratify=strat)


def classification_metrics(y_true, y_pred, scores=None) -> dict:
    from sklearn import metrics as m

    out = {"accuracy": m.accuracy_score(y_true, y_pred),
           "macro_f1": m.f1_score(y_true, y_pred, average="macro")}
    if scores is not None and len(np.unique(y_true)) == 2:
        out["auc"] = m.roc_auc_score(y_true, scores)
    return out


def regression_metrics(y_true, y_pred) -> dict:
    from sklearn import metrics as m

    return {"rmse": float(np.sqrt(m.mean_squared_error(y_true, y_pred))),
            "mae": m.mean_absolute_error(y_true, y_pred), "r2": m.r2_score(y_true, y_pred)}


class Recorder:
    """Collects MetricRecord dicts; written atomically so a crash never leaves half a file."""

    def __init__(self, wanted: list[str] | None = None):
        self.records: list[dict] = []
        self.wanted = set(wanted or [])
        self.t0 = time.time()

    def add(self, method: str, dataset: str, values: dict, seed: int, split: str = "test") -> None:
        # metrics the config did not name are dropped, unless it named none this task has
        keep = (self.wanted & set(values)) or set(values)
        for metric, v in values.items():
            if metric in keep and v is not None and math.isfinite(float(v)):
                self.records.append({"method": method, "dataset": dataset, "metric": metric,
                                     "value": float(v), "seed": int(seed), "split": split})
        print(f"[{time.time() - self.t0:6.1f}s] {dataset} seed={seed} {method}"
              + ("" if split == "test" else f" [{split}]") + ": "
              + ", ".join(f"{k}={float(v):.4f}" for k, v in values.items()), flush=True)

    def write(self, path: str | Path = "metrics.json") -> Path:
        out = HERE / path
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.records, indent=1))
        os.replace(tmp, out)
        return out


def predict_scores(est, X):
    """Positive-class scores for binary AUC, when the estimator can give them."""
    if hasattr(est, "predict_proba"):
        try:
            return est.predict_proba(X)[:, 1]
        except (AttributeError, IndexError):
            return None
    if hasattr(est, "decision_function"):
        return est.decision_function(X)
    return None


def default_features(arrays: dict, tr: np.ndarray, te: np.ndarray, spec: dict):
    """Flattened numeric features (images become pixel vectors); returns (Xtr, Xte, sparse)."""
    X = arrays["X"] if "X" in arrays else arrays["images"]
    X = X.reshape(len(X), -1).astype(np.float32)
    return X[tr], X[te], False


def fit_measured(est, X, y):
    """Fit, timing it and tracing its peak Python/numpy allocation (tracemalloc): the
    per-method runtime and memory an efficiency table reports."""
    import tracemalloc

    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        est.fit(X, y)
        secs = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return est, {"fit_seconds": secs, "peak_memory_mb": peak / 2 ** 20}


def model_size_kb(est, state=None) -> float:
    """What the fitted method must keep to predict: the pickled estimator (a k-NN keeps its
    training set, a linear model its coefficients) plus the fitted feature extractor
    (a vocabulary; a hashing vectorizer keeps none), in kB."""
    import pickle

    try:
        return len(pickle.dumps((est, state), protocol=pickle.HIGHEST_PROTOCOL)) / 1024
    except Exception as e:  # a model-written class (method.py) need not pickle: count its arrays
        print(f"model size: pickling failed ({type(e).__name__}); counting array bytes", flush=True)
        return _array_bytes((est, state)) / 1024


def _array_bytes(obj, depth: int = 0, seen: set | None = None) -> int:
    """Bytes of the numpy arrays and tensors reachable from obj (attributes, containers)."""
    seen = set() if seen is None else seen
    if depth > 6 or id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if hasattr(obj, "element_size") and hasattr(obj, "numel"):  # a torch tensor
        return int(obj.element_size() * obj.numel())
    if isinstance(obj, dict):
        return sum(_array_bytes(v, depth + 1, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_array_bytes(v, depth + 1, seen) for v in obj)
    if hasattr(obj, "state_dict") and callable(obj.state_dict):  # a torch module
        return _array_bytes(dict(obj.state_dict()), depth + 1, seen)
    return _array_bytes(vars(obj), depth + 1, seen) if hasattr(obj, "__dict__") else 0


def capacity_spec(spec: dict, cond: dict) -> dict:
    """The method at one capacity level (config "capacity"): its PCA step replaced by
    cond["pca"] components (whitened with cond["whiten"]), or its text features hashed
    into cond["hash_buckets"] buckets."""
    out = json.loads(json.dumps(spec))
    if "pca" in cond:
        keep = [s for s in out.get("steps") or [] if s not in ("pca", "pca_whiten")
                and not (isinstance(s, dict) and {"pca", "pca_whiten"} & set(s))]
        out["steps"] = keep + [{"pca_whiten" if cond.get("whiten") else "pca": int(cond["pca"])}]
    elif "hash_buckets" in cond:
        feats = out.get("features") if isinstance(out.get("features"), dict) else {}
        out["features"] = dict(feats, hash_buckets=int(cond["hash_buckets"]))
    else:
        raise ValueError(f"capacity condition {cond!r} names no axis; use 'pca' or 'hash_buckets'")
    return out


def augment_train(arrays: dict, y: np.ndarray, idx: np.ndarray, kind: str) -> tuple[dict, np.ndarray, np.ndarray]:
    """A method spec's "augment": "shift" adds every training image shifted by one pixel up,
    down, left and right (zeros shifted in), labels copied. -> (arrays, labels, training
    indices) with the copies appended after the original rows, so test indices still hold."""
    if kind != "shift":
        raise ValueError(f"unknown augmentation {kind!r}; choose 'shift'")
    if "images" not in arrays:
        raise ValueError("shift augmentation needs image arrays ('images'); this dataset has "
                         f"{sorted(arrays)}")
    imgs, n = arrays["images"], len(arrays["images"])
    copies = []
    for axis, step in ((1, 1), (1, -1), (2, 1), (2, -1)):
        sh = np.roll(imgs[idx], step, axis=axis)
        edge = [slice(None)] * sh.ndim
        edge[axis] = 0 if step > 0 else -1
        sh[tuple(edge)] = 0
        copies.append(sh)
    out = dict(arrays, images=np.concatenate([imgs, *copies]))
    labels = np.concatenate([y, *([y[idx]] * len(copies))])
    return out, labels, np.concatenate([idx, n + np.arange(len(copies) * len(idx))])


def train_subset(tr: np.ndarray, frac: float, seed: int, y: np.ndarray | None) -> np.ndarray:
    """A seeded, class-stratified share of the training indices (at least 2 per class)."""
    rng = np.random.default_rng(seed + 7919)
    if y is None:
        return np.sort(rng.permutation(tr)[: max(2, int(round(frac * len(tr))))])
    keep = []
    for c in np.unique(y[tr]):
        idx = rng.permutation(tr[y[tr] == c])
        keep.append(idx[: max(min(2, len(idx)), int(round(frac * len(idx))))])
    return np.sort(np.concatenate(keep))


def perturb(Xte, Xtr, p: dict, seed: int, blocks: dict | None = None):
    """The test features under one perturbation, scaled by the training features' spread:
    gaussian_noise (sd = level x per-feature std), feature_dropout (a share `level` of the
    entries set to 0), shift (every feature moved by level x its std). `block` limits it
    to one named column block (e.g. one modality); a method without that block is not
    perturbed (it does not see that modality)."""
    import scipy.sparse as sp

    kind, level = p["kind"], float(p.get("level", 0.5))
    if kind not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {kind!r}; choose from {PERTURBATIONS}")
    rng = np.random.default_rng(seed + 104729)
    X = Xte.toarray() if sp.issparse(Xte) else np.array(Xte, dtype=np.float64, copy=True)
    ref = Xtr.toarray() if sp.issparse(Xtr) else np.asarray(Xtr, dtype=np.float64)
    cols = slice(None)
    if p.get("block"):
        if not blocks or p["block"] not in blocks:
            # the method does not see that modality (an image-only model under text noise):
            # its input, and so its score, is the clean one
            return Xte
        cols = slice(*blocks[p["block"]])
    sub, std = X[:, cols], ref[:, cols].std(0) + 1e-12
    if kind == "gaussian_noise":
        sub += rng.normal(0.0, 1.0, sub.shape) * std * level
    elif kind == "shift":
        sub += std * level
    else:
        sub[rng.random(sub.shape) < level] = 0.0
    X[:, cols] = sub
    return sp.csr_matrix(X) if sp.issparse(Xte) else X.astype(np.float32)


def _score(est, X, y, kind: str) -> dict:
    pred = est.predict(X)
    return (classification_metrics(y, pred, predict_scores(est, X)) if kind == "clf"
            else regression_metrics(y, pred))


def run_supervised(cfg: dict, featurize=default_features, wrap=None) -> Recorder:
    """Every dataset x seed x method: split, featurize, fit, predict, score. Also records
    per method its fit time and peak memory (split "efficiency"); with
    cfg["train_fractions"] the test scores of models trained on those shares of the
    training split (split "train_fraction=F": a learning curve); with
    cfg["test_perturbations"] the scores on perturbed test features (split
    "perturbed:NAME"); with cfg["capacity"] the scores of cfg["capacity_base"] (default:
    the proposed method) refitted at each capacity level (split "capacity:NAME", its cost
    "capacity_cost:NAME"). `featurize` may return a 4th item, named column blocks, and a
    5th, the fitted feature extractor (counted in the model size); `wrap(est, spec,
    blocks)` may wrap the estimator (e.g. late fusion)."""
    rec = Recorder(cfg.get("metrics"))
    fracs = [float(f) for f in cfg.get("train_fractions") or [] if 0 < float(f) < 1]
    perts = list(cfg.get("test_perturbations") or [])
    caps = list(cfg.get("capacity") or [])
    cap_base = cfg.get("capacity_base") or cfg["method"]["name"]
    for ds in cfg["datasets"]:
        arrays, doc = load_dataset(ds, cfg)
        kind = "reg" if doc["card"]["task"] == "regression" else "clf"
        y = arrays["y"]
        for seed in cfg["seeds"]:
            np.random.seed(seed)
            tr, te = split_indices(y if kind == "clf" else None, len(y), seed, cfg.get("test_frac", 0.3))
            tr = tr[: int(cfg.get("max_train", len(tr)))]
            for spec in method_specs(cfg):
                def fit(idx, spec=spec):
                    arr, lab = select_columns(arrays, spec), y
                    if spec.get("augment"):  # the training rows only; test rows keep their indices
                        arr, lab, idx = augment_train(arr, y, idx, spec["augment"])
                    Xtr, Xte, sparse, *more = featurize(arr, idx, te, spec)
                    blocks = more[0] if more else None
                    est = make_estimator(spec, seed, kind, sparse)
                    est = wrap(est, spec, blocks) if wrap else est
                    est, cost = fit_measured(est, Xtr, lab[idx])
                    cost["model_size_kb"] = model_size_kb(est, more[1] if len(more) > 1 else None)
                    return est, cost, Xtr, Xte, blocks
                est, cost, Xtr, Xte, blocks = fit(tr)
                rec.add(spec["name"], ds, _score(est, Xte, y[te], kind), seed)
                rec.add(spec["name"], ds, cost, seed, split="efficiency")
                for p in perts:
                    Xp = perturb(Xte, Xtr, p, seed, blocks)
                    rec.add(spec["name"], ds, _score(est, Xp, y[te], kind), seed,
                            split=f"perturbed:{p.get('name') or p['kind']}")
                for f in fracs:
                    sub = train_subset(tr, f, seed, y if kind == "clf" else None)
                    est_f, _, _, Xte_f, _ = fit(sub)
                    rec.add(spec["name"], ds, _score(est_f, Xte_f, y[te], kind), seed,
                            split=f"train_fraction={f:g}")
                for c in caps if spec["name"] == cap_base else []:
                    est_c, cost_c, _, Xte_c, _ = fit(tr, capacity_spec(spec, c))
                    rec.add(spec["name"], ds, _score(est_c, Xte_c, y[te], kind), seed, split=f"capacity:{c['name']}")
                    rec.add(spec["name"], ds, cost_c, seed, split=f"capacity_cost:{c['name']}")
    return rec


def select_columns(arrays: dict, spec: dict) -> dict:
    """The feature blocks an arm names (spec "columns": [start, end) ranges of X), else all."""
    if not spec.get("columns"):
        return arrays
    idx = np.concatenate([np.arange(int(a), int(b)) for a, b in spec["columns"]])
    return dict(arrays, X=arrays["X"][:, idx])


def method_specs(cfg: dict) -> list[dict]:
    """Baselines, the proposed method, then ablations (each a spec with a unique name)."""
    specs = list(cfg.get("baselines", [])) + [cfg["method"]] + list(cfg.get("ablations", []))
    specs = [dict(s, threshold_metric=s.get("threshold_metric") or cfg.get("primary_metric"))
             if s.get("threshold") else s for s in specs]  # tuned for the metric the paper reports
    names = [s["name"] for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"method names must be unique, got {names}")
    return specs


def bar_figure(records: list[dict], metric: str, path: str | Path = "figures/results.png") -> Path:
    """Mean +- std over seeds of `metric`, one group of bars per dataset."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if r["metric"] == metric and r.get("split", "test") == "test"]
    datasets = sorted({r["dataset"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(methods) * len(datasets)), 3.2))
    width = 0.8 / max(1, len(methods))
    for j, m in enumerate(methods):
        vals = [[r["value"] for r in rows if r["method"] == m and r["dataset"] == d] for d in datasets]
        ax.bar(np.arange(len(datasets)) + j * width, [np.mean(v) if v else 0 for v in vals], width,
               yerr=[np.std(v) if v else 0 for v in vals], capsize=3, label=m)
    ax.set_xticks(np.arange(len(datasets)) + width * (len(methods) - 1) / 2, datasets)
    return _save(fig, ax, metric, path)


def _save(fig, ax, metric: str, path: str | Path) -> Path:
    """Label, lay out and write a figure under the run directory."""
    import matplotlib.pyplot as plt

    ax.set_ylabel(metric)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    out = HERE / path
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def condition_figure(records: list[dict], metric: str, prefix: str, path: str | Path) -> Path | None:
    """Mean +- std over seeds of `metric` per method across the conditions whose split
    starts with `prefix` (plus the unperturbed / full-data test split): a learning curve
    for "train_fraction=", a robustness profile for "perturbed:"."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if r["metric"] == metric and (r["split"].startswith(prefix) or r["split"] == "test")]
    conds = sorted({r["split"] for r in rows if r["split"] != "test"})
    if not conds:
        return None
    curve = prefix == "train_fraction="
    if curve:
        order = sorted(conds, key=lambda c: float(c.split("=")[1])) + ["test"]
        xs, labels = [float(c.split("=")[1]) if c != "test" else 1.0 for c in order], None
    else:
        order = ["test", *conds]
        xs, labels = list(range(len(order))), ["clean"] + [c.split(":", 1)[1] for c in conds]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for ds in sorted({r["dataset"] for r in rows}):
        for m in dict.fromkeys(r["method"] for r in rows):
            vals = [[r["value"] for r in rows if r["method"] == m and r["dataset"] == ds and r["split"] == c]
                    for c in order]
            if all(vals):
                ax.errorbar(xs, [np.mean(v) for v in vals], yerr=[np.std(v) for v in vals], marker="o",
                            capsize=3, label=m if len({r["dataset"] for r in rows}) == 1 else f"{m} ({ds})")
    ax.set_xlabel("share of the training split" if curve else "test condition")
    if labels:
        ax.set_xticks(xs, labels, fontsize=7, rotation=15)
    return _save(fig, ax, metric, path)


def finish(rec: Recorder, cfg: dict) -> None:
    if not rec.records:
        sys.exit("no metrics were produced; check the config's datasets and metrics")
    rec.write()
    present = [r["metric"] for r in rec.records if r["split"] == "test"] or [rec.records[0]["metric"]]
    metric = cfg.get("primary_metric") if cfg.get("primary_metric") in present else present[0]
    bar_figure(rec.records, metric)
    condition_figure(rec.records, metric, "train_fraction=", "figures/learning_curve.png")
    condition_figure(rec.records, metric, "perturbed:", "figures/robustness.png")
    print(f"wrote {len(rec.records)} metric records in {time.time() - rec.t0:.1f}s", flush=True)
