"""Seeded experiment: image + text classification (early fusion of both modalities, or
late fusion: one classifier per modality, their class probabilities averaged).

Run: OMP_NUM_THREADS=1 python run.py   (reads config.json, data/<dataset>.npz)
Slots (filled by the coding agent, validated before they get here):
  config.json "method"    -> {"name", "family", "params", "steps", "features"}
                             features: {"modalities": ["image", "text"], "text_weight": 0.1-10,
                                        "fusion": "early" | "late"}
  config.json "ablations" -> variants, e.g. one modality dropped
  method.py (optional)    -> build_model(seed, params) for family "custom"
Writes metrics.json (method, dataset, metric, value, seed, split) and figures/results.png.
"""
import numpy as np

from nr_common import finish, load_config, run_supervised


def image_features(images: np.ndarray, grid: int = 8, bins: int = 8) -> np.ndarray:
    """Average-pooled thumbnail (grid x grid x 3) + per-channel colour histograms: a
    compact, non-negative image descriptor."""
    n, h, w, c = images.shape
    x = images.astype(np.float32) / 255.0
    ph, pw = h // grid, w // grid
    thumb = x[:, : ph * grid, : pw * grid].reshape(n, grid, ph, grid, pw, c).mean((2, 4))
    hist = np.stack([np.apply_along_axis(lambda v: np.histogram(v, bins, (0, 1))[0], 1, x[..., k].reshape(n, -1))
                     for k in range(c)], 1).reshape(n, -1) / (h * w)
    return np.hstack([thumb.reshape(n, -1), hist]).astype(np.float32)


def featurize(arrays, tr, te, spec):
    from sklearn.feature_extraction.text import TfidfVectorizer

    feat = spec.get("features") if isinstance(spec.get("features"), dict) else {}
    mods = [m for m in feat.get("modalities", ["image", "text"]) if m in ("image", "text")] or ["image"]
    weight = min(max(float(feat.get("text_weight", 1.0)), 0.1), 10.0)
    blocks_tr, blocks_te, names = [], [], {}
    if "image" in mods:
        img = image_features(arrays["images"])
        blocks_tr.append(img[tr])
        blocks_te.append(img[te])
        names["image"] = (0, img.shape[1])
    if "text" in mods:
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, max_features=500)
        blocks_tr.append(weight * vec.fit_transform(arrays["text"][tr]).toarray())
        blocks_te.append(weight * vec.transform(arrays["text"][te]).toarray())
        start = sum(b.shape[1] for b in blocks_tr[:-1])
        names["text"] = (start, start + blocks_tr[-1].shape[1])
    # dense on purpose: ~700 columns x ~1900 rows, and lbfgs is several times faster on
    # dense input than on CSR here
    return np.hstack(blocks_tr), np.hstack(blocks_te), False, names


class LateFusion:
    """One clone of the base classifier per modality block; predict_proba averages the
    per-modality class probabilities (the base must give probabilities)."""

    def __init__(self, base, blocks: dict):
        self.base, self.blocks = base, dict(blocks)

    def fit(self, X, y):
        from sklearn.base import clone

        if not hasattr(self.base, "predict_proba"):
            raise ValueError("late fusion needs a classifier with predict_proba (e.g. logreg)")
        self.models_ = {k: clone(self.base).fit(X[:, a:b], y) for k, (a, b) in self.blocks.items()}
        self.classes_ = next(iter(self.models_.values())).classes_
        return self

    def predict_proba(self, X):
        return np.mean([m.predict_proba(X[:, a:b]) for m, (a, b) in
                        ((self.models_[k], v) for k, v in self.blocks.items())], axis=0)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]


def wrap(est, spec, blocks):
    feat = spec.get("features") if isinstance(spec.get("features"), dict) else {}
    if feat.get("fusion") == "late" and blocks and len(blocks) > 1:
        return LateFusion(est, blocks)
    return est


if __name__ == "__main__":
    cfg = load_config()
    finish(run_supervised(cfg, featurize, wrap), cfg)
