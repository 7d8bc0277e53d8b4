"""Seeded experiment: time-series forecasting (rolling origin) or series classification.

Run: OMP_NUM_THREADS=1 python run.py   (reads config.json, data/<dataset>.npz)
Forecasting: seed i evaluates backtest fold i (forecast origin T - (i+1)*horizon), so seeds
are different test windows; stochastic models are also seeded with i.
Slots (filled by the coding agent, validated before they get here):
  config.json "method" -> {"name", "family", "params", "steps", "features"}
     forecasting families: naive, seasonal_naive, mean, drift, ets, or any regressor of the
     model zoo (ridge, random_forest, gbm, knn, mlp, ...) trained on lag windows with
     features {"n_lags": int, "difference": bool}
     classification: zoo family on features "raw" | "stats" | {"rocket": n_kernels}
  config.json "ablations" -> variants of the method
Writes metrics.json (method, dataset, metric, value, seed, split) and figures/results.png.
"""
import warnings

import numpy as np

from nr_common import (Recorder, finish, load_config, load_dataset, make_estimator, method_specs,
                       run_supervised)

CLASSICAL = ("naive", "seasonal_naive", "mean", "drift", "ets")


def classical_forecast(train: np.ndarray, h: int, period: int, family: str) -> np.ndarray:
    if family == "naive":
        return np.repeat(train[-1], h)
    if family == "seasonal_naive" and period > 1 and len(train) >= period:
        return np.resize(train[-period:], h)
    if family == "mean":
        return np.repeat(train.mean(), h)
    if family == "drift" or family == "seasonal_naive":
        slope = (train[-1] - train[0]) / max(len(train) - 1, 1)
        return train[-1] + slope * np.arange(1, h + 1)
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = "add" if period > 1 and len(train) >= 2 * period else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(train, trend="add", seasonal=seasonal,
                                   seasonal_periods=period if seasonal else None).fit()
    return np.asarray(fit.forecast(h))


def lag_forecast(train: np.ndarray, h: int, spec: dict, seed: int) -> np.ndarray:
    """Recursive multi-step forecast with a regressor on standardized lag windows."""
    feat = spec.get("features") if isinstance(spec.get("features"), dict) else {}
    x = np.diff(train) if feat.get("difference") else train
    lags = int(min(max(int(feat.get("n_lags", 12)), 1), max(1, len(x) // 3)))
    mu, sd = x.mean(), x.std() + 1e-9
    z = (x - mu) / sd
    X = np.lib.stride_tricks.sliding_window_view(z[:-1], lags)
    est = make_estimator(spec, seed, "reg")
    est.fit(X, z[lags:])
    hist, out = list(z[-lags:]), []
    for _ in range(h):
        out.append(float(est.predict(np.asarray(hist[-lags:])[None, :])[0]))
        hist.append(out[-1])
    pred = np.asarray(out) * sd + mu
    return train[-1] + np.cumsum(pred) if feat.get("difference") else pred


def forecast_metrics(train, test, pred, period) -> dict:
    m = max(period, 1)
    scale = np.mean(np.abs(train[m:] - train[:-m])) + 1e-12
    err = test - pred
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2))),
            "mase": float(np.mean(np.abs(err)) / scale),
            "smape": float(np.mean(2 * np.abs(err) / (np.abs(test) + np.abs(pred) + 1e-12)))}


def run_forecasting(cfg: dict, ds: str, arrays: dict, doc: dict, rec: Recorder) -> None:
    series, period = arrays["series"].astype(np.float64), int(doc["meta"].get("period", 1))
    h = int(cfg.get("horizon") or doc["meta"].get("horizon", 12))
    min_train = max(3 * period, 24)
    n_folds = max(1, min(5, (len(series) - min_train) // h))
    for seed in cfg["seeds"]:
        origin = len(series) - h * (seed % n_folds + 1)
        train, test = series[:origin], series[origin:origin + h]
        for spec in method_specs(cfg):
            fam = spec.get("family")
            pred = (classical_forecast(train, h, period, fam) if fam in CLASSICAL
                    else lag_forecast(train, h, spec, seed))
            rec.add(spec["name"], ds, forecast_metrics(train, test, pred, period), seed)


def series_features(X: np.ndarray, spec: dict) -> np.ndarray:
    return series_features_by_channel(X, spec)[0]


def series_features_by_channel(X: np.ndarray, spec: dict) -> tuple[np.ndarray, np.ndarray]:
    """(features, the channel each feature column is computed from)."""
    feat = spec.get("features", "raw")
    n, c, L = X.shape
    if isinstance(feat, dict) and "rocket" in feat:
        return rocket_features(X, int(min(max(int(feat["rocket"]), 10), 1000)))
    if feat == "stats":
        slope = (X[:, :, -1] - X[:, :, 0]) / X.shape[2]
        parts = [X.mean(2), X.std(2), X.min(2), X.max(2), slope, np.abs(np.diff(X, axis=2)).mean(2)]
        return np.concatenate(parts, axis=1), np.tile(np.arange(c), len(parts))
    return X.reshape(n, -1), np.repeat(np.arange(c), L)


def per_channel_select(Xtr: np.ndarray, ytr: np.ndarray, channels: np.ndarray, keep: float) -> np.ndarray:
    """Column mask: within each channel, the share `keep` of its features with the highest
    ANOVA F-score on the training rows (constant columns score 0)."""
    from sklearn.feature_selection import f_classif

    with np.errstate(divide="ignore", invalid="ignore"):
        F = np.nan_to_num(f_classif(Xtr, ytr)[0], nan=0.0)
    mask = np.zeros(Xtr.shape[1], dtype=bool)
    for ch in np.unique(channels):
        cols = np.flatnonzero(channels == ch)
        k = max(1, int(np.ceil(keep * len(cols))))
        mask[cols[np.argsort(-F[cols], kind="stable")[:k]]] = True
    return mask


def rocket_features(X: np.ndarray, n_kernels: int) -> tuple[np.ndarray, np.ndarray]:
    """Random dilated convolution kernels -> (max, proportion of positive values) per kernel;
    fixed kernel seed so train and test share the same transform. Also returns the channel
    each column's kernel reads."""
    rng = np.random.default_rng(12345)
    n, c, L = X.shape
    out = np.zeros((n, 2 * n_kernels), dtype=np.float32)
    chans = np.zeros(2 * n_kernels, dtype=int)
    for k in range(n_kernels):
        length = rng.choice([7, 9, 11])
        w = rng.normal(size=length)
        w -= w.mean()
        dil = int(2 ** rng.uniform(0, np.log2(max((L - 1) / (length - 1), 1))))
        ch = rng.integers(c)
        span = (length - 1) * dil + 1
        if span > L:
            dil, span = 1, length
        idx = np.arange(L - span + 1)[:, None] + dil * np.arange(length)[None, :]
        conv = X[:, ch, :][:, idx] @ w + rng.uniform(-1, 1)
        out[:, 2 * k], out[:, 2 * k + 1] = conv.max(1), (conv > 0).mean(1)
        chans[2 * k: 2 * k + 2] = ch
    return out, chans


def classification_featurize(arrays, tr, te, spec):
    X, channels = series_features_by_channel(arrays["X"].astype(np.float32), spec)
    if spec.get("channel_select"):  # chosen on the training rows only
        X = X[:, per_channel_select(X[tr], arrays["y"][tr], channels, float(spec["channel_select"]))]
    return X[tr], X[te], False


if __name__ == "__main__":
    cfg = load_config()
    rec = Recorder(cfg.get("metrics"))
    clf_cfg = dict(cfg, datasets=[])
    for ds in cfg["datasets"]:
        arrays, doc = load_dataset(ds, cfg)
        if doc["card"]["task"] == "forecasting":
            run_forecasting(cfg, ds, arrays, doc, rec)
        else:
            clf_cfg["datasets"].append(ds)
    if clf_cfg["datasets"]:
        rec.records += run_supervised(clf_cfg, classification_featurize).records
    finish(rec, cfg)
